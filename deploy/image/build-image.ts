/**
 * `npm run build:image`: packs dist/jobservice (from `npm run build:binary`)
 * into an OCI image without a container engine, with Debian's umoci and
 * skopeo, and writes dist/jobservice-image.tar for `docker load`. Everything in
 * the image comes from image.json.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadImageSpec, buildLabels, REPO_ROOT, type ImageSpec } from "./spec.js";
import { stageRootfs } from "./stage-rootfs.js";

export const IMAGE_TAR = join(REPO_ROOT, "dist/jobservice-image.tar");
const LAYOUT = join(REPO_ROOT, "dist/jobservice-oci");

function tool(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const { code, stderr } = error as { code?: string; stderr?: string };
    if (code === "ENOENT") throw new Error(`${command} is not installed: apt-get install ${command}`);
    throw new Error(`${command} ${args.join(" ")} failed: ${stderr ?? String(error)}`);
  }
}

/** `umoci config` flags for everything image.json says about running the image. */
export function configFlags(spec: ImageSpec, labels: Record<string, string>): string[] {
  return [
    "--config.user",
    `${spec.user.uid}:${spec.user.gid}`,
    ...spec.entrypoint.flatMap((part) => ["--config.entrypoint", part]),
    ...spec.cmd.flatMap((part) => ["--config.cmd", part]),
    ...Object.entries(spec.env).flatMap(([key, value]) => ["--config.env", `${key}=${value}`]),
    ...spec.exposedPorts.flatMap((port) => ["--config.exposedports", port]),
    "--config.stopsignal",
    spec.stopSignal,
    "--config.workingdir",
    "/",
    ...Object.entries({ ...spec.labels, ...labels }).flatMap(([key, value]) => ["--config.label", `${key}=${value}`]),
  ];
}

function revision(): string {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

export function buildImage(): { tar: string; reference: string } {
  const spec = loadImageSpec();
  const binary = join(REPO_ROOT, "dist/jobservice");
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    throw new Error(`${binary} is missing: run \`npm run build:binary\` first`);
  }
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
  const reference = `${spec.name}:${version}`;
  const work = mkdtempSync(join(tmpdir(), "jobservice-image-"));
  try {
    const rootfs = join(work, "rootfs");
    stageRootfs(spec, rootfs);
    rmSync(LAYOUT, { recursive: true, force: true });
    rmSync(IMAGE_TAR, { force: true });
    const image = `${LAYOUT}:${version}`;
    tool("umoci", ["init", "--layout", LAYOUT]);
    tool("umoci", ["new", "--image", image]);
    tool("umoci", ["insert", "--image", image, "--history.created_by", "deploy/image/stage-rootfs.ts", rootfs, "/"]);
    tool("umoci", [
      "config",
      "--image",
      image,
      "--history.created_by",
      "deploy/image/image.json",
      ...configFlags(spec, buildLabels(version, revision(), new Date().toISOString())),
    ]);
    tool("umoci", ["gc", "--layout", LAYOUT]);
    tool("skopeo", ["copy", "--quiet", `oci:${image}`, `docker-archive:${IMAGE_TAR}:${reference}`]);
    return { tar: IMAGE_TAR, reference };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const { tar, reference } = buildImage();
process.stdout.write(`wrote ${tar} (${reference}); load it with: docker load < ${tar}\n`);
