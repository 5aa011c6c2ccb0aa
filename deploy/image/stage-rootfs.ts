/**
 * Lays out the image's root filesystem in a directory, from image.json:
 * `node --import tsx deploy/image/stage-rootfs.ts <dir>`. `npm run build:image`
 * packs that directory as the image's one layer; the Dockerfile runs the same
 * command in its build stage and copies the directory onto `scratch`.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { loadImageSpec, REPO_ROOT, type ImageSpec } from "./spec.js";

/** The absolute paths in `ldd` output: each resolved library and the program interpreter. */
export function librariesFromLdd(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split("\n")) {
    if (/not found/.test(line)) throw new Error(`ldd cannot resolve a library: ${line.trim()}`);
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1]) paths.push(match[1]);
  }
  return paths;
}

/** /etc/passwd, /etc/group and /etc/nsswitch.conf for the image's one unprivileged user. */
export function etcFiles(user: ImageSpec["user"]): Record<string, string> {
  return {
    "/etc/passwd": `root:x:0:0:root:/root:/sbin/nologin\n${user.name}:x:${user.uid}:${user.gid}:${user.name}:${user.home}:/sbin/nologin\n`,
    "/etc/group": `root:x:0:\n${user.name}:x:${user.gid}:\n`,
    "/etc/nsswitch.conf": "hosts: files dns\n",
  };
}

function place(root: string, target: string, mode: number, write: (path: string) => void): void {
  const path = join(root, target);
  mkdirSync(dirname(path), { recursive: true });
  write(path);
  chmodSync(path, mode);
}

/** Writes the root filesystem into `root` (which should be empty); returns the image paths written. */
export function stageRootfs(spec: ImageSpec, root: string, checkout = REPO_ROOT): string[] {
  const written: string[] = [];
  const sourceOf = (source: string): string => (isAbsolute(source) ? source : resolve(checkout, source));
  for (const file of spec.files) {
    place(root, file.target, Number.parseInt(file.mode, 8), (path) => copyFileSync(sourceOf(file.source), path));
    written.push(file.target);
  }
  const program = spec.files.find((file) => file.target === spec.sharedLibrariesOf);
  if (!program) throw new Error(`no file entry installs ${spec.sharedLibrariesOf}`);
  for (const library of librariesFromLdd(execFileSync("ldd", [sourceOf(program.source)], { encoding: "utf8" }))) {
    // Copy what a symlink points at, under the name the binary asks for.
    place(root, library, 0o755, (path) => copyFileSync(realpathSync(library), path));
    written.push(library);
  }
  for (const [target, content] of Object.entries(etcFiles(spec.user))) {
    place(root, target, 0o644, (path) => writeFileSync(path, content));
    written.push(target);
  }
  for (const directory of spec.directories) {
    const path = join(root, directory.target);
    mkdirSync(path, { recursive: true });
    chmodSync(path, Number.parseInt(directory.mode, 8));
    written.push(directory.target);
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const root = process.argv[2];
  if (!root) {
    process.stderr.write("usage: stage-rootfs.ts <directory>\n");
    process.exit(2);
  }
  for (const path of stageRootfs(loadImageSpec(), resolve(root))) process.stdout.write(`${path}\n`);
}
