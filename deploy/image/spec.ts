/**
 * The image's one description (deploy/image/image.json): what goes into the
 * root filesystem, who runs it and how. `npm run build:image` and the
 * Dockerfile both follow it; test/image keeps the Dockerfile in step.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface ImageFile {
  /** Path in the checkout (relative) or on the build machine (absolute). */
  readonly source: string;
  readonly target: string;
  /** Octal permission bits, e.g. "0755". */
  readonly mode: string;
}

export interface ImageSpec {
  readonly name: string;
  readonly files: readonly ImageFile[];
  /** The target whose shared libraries (as `ldd` resolves them on the build machine) go in too. */
  readonly sharedLibrariesOf: string;
  readonly directories: ReadonlyArray<{ readonly target: string; readonly mode: string }>;
  readonly user: { readonly name: string; readonly uid: number; readonly gid: number; readonly home: string };
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly exposedPorts: readonly string[];
  readonly stopSignal: string;
  /** Fixed labels; the build adds org.opencontainers.image.version, .revision and .created. */
  readonly labels: Readonly<Record<string, string>>;
}

export const SPEC_PATH = fileURLToPath(new URL("./image.json", import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function loadImageSpec(path = SPEC_PATH): ImageSpec {
  const spec = JSON.parse(readFileSync(path, "utf8")) as ImageSpec;
  if (spec.user.uid === 0 || spec.user.gid === 0) throw new Error(`${path}: the image's user must not be root`);
  if (!spec.files.some((file) => file.target === spec.sharedLibrariesOf)) {
    throw new Error(`${path}: sharedLibrariesOf names ${spec.sharedLibrariesOf}, which no file entry installs`);
  }
  return spec;
}

/** The labels that depend on the build: the package's version, the commit, the time. */
export function buildLabels(version: string, revision: string, created: string): Record<string, string> {
  return {
    "org.opencontainers.image.version": version,
    "org.opencontainers.image.revision": revision,
    "org.opencontainers.image.created": created,
  };
}
