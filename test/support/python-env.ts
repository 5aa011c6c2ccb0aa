import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { withFileLock } from "./file-lock.js";

/**
 * Isolated tool environments for the tests: Python virtual environments made with uv from the
 * locked requirements in test/envs/<name>/, and Go tools installed with `go install`. Each is
 * made once under .envs/ (ignored by git) and reused while its lock file is unchanged; test files
 * in other workers wait on a file lock instead of making it twice. Nothing is installed globally.
 */

const run = promisify(execFile);
export const ROOT = new URL("../..", import.meta.url).pathname;
const ENVS = join(ROOT, ".envs");
const SPECS = join(ROOT, "test/envs");
const UV_SPEC = join(SPECS, "uv.txt");
/** uv itself (made by the first pythonEnv call), for building and installing packages into an environment. */
export const UV = join(ENVS, "uv/bin/uv");
/** Long enough for a cold Airflow install on a loaded machine. */
export const ENV_TIMEOUT_MS = 15 * 60_000;

export interface PythonEnv {
  readonly name: string;
  /** The environment's interpreter. */
  readonly python: string;
  /** Its bin folder, for console scripts such as `airflow` or `pytest`. */
  readonly bin: string;
}

/** The environment named after a folder of test/envs, made from its requirements.txt if missing or stale. */
export async function pythonEnv(name: string): Promise<PythonEnv> {
  const spec = join(SPECS, name);
  const lock = join(spec, "requirements.txt");
  if (!existsSync(lock)) throw new Error(`no Python test environment "${name}": ${lock} is missing`);
  const version = pythonVersion(spec);
  const dir = join(ENVS, "python", name);
  const env: PythonEnv = { name, python: join(dir, "bin/python"), bin: join(dir, "bin") };
  const stamp = digest(readFileSync(lock, "utf8"), version, readFileSync(UV_SPEC, "utf8"));
  if (stampOf(dir) === stamp) return env;
  await withFileLock(join(ENVS, `python-${name}.lock`), async () => {
    if (stampOf(dir) === stamp) return;
    await installUv();
    rmSync(dir, { recursive: true, force: true });
    await step(`Python ${version} for the "${name}" environment`, UV, ["venv", "--quiet", "--python", version, dir]);
    await step(`the "${name}" environment's packages (test/envs/${name}/requirements.txt)`, UV, [
      "pip",
      "sync",
      "--quiet",
      "--require-hashes",
      "--python",
      env.python,
      lock,
    ]);
    writeFileSync(join(dir, ".stamp"), stamp);
  });
  return env;
}

/** `go install module@version` into .envs/go, once per version; the path of the binary it built. */
export async function goTool(module: string, version: string): Promise<string> {
  const binary = module.split("/").at(-1) ?? module;
  const dir = join(ENVS, "go", `${binary}@${version}`);
  const path = join(dir, binary);
  if (existsSync(path)) return path;
  await withFileLock(join(ENVS, `go-${binary}.lock`), async () => {
    if (existsSync(path)) return;
    await step(`${module}@${version} from the Go module proxy`, "go", ["install", `${module}@${version}`], { GOBIN: dir, GOFLAGS: "-mod=mod" });
  });
  return path;
}

/**
 * A Go tool built from test/envs/<name>/go.mod and go.sum (the published module named by a `tool`
 * line, its dependencies locked): for tools `go install module@version` cannot fetch, such as a
 * version the module proxy serves while refusing the module's version list. Rebuilt when the lock
 * changes; the path of the binary called `name`.
 */
export async function goModTool(name: string): Promise<string> {
  const spec = join(SPECS, name);
  const lock = digest(readFileSync(join(spec, "go.mod"), "utf8"), readFileSync(join(spec, "go.sum"), "utf8")).slice(0, 16);
  const dir = join(ENVS, "go", `${name}@${lock}`);
  const path = join(dir, name);
  if (existsSync(path)) return path;
  await withFileLock(join(ENVS, `go-${name}.lock`), async () => {
    if (existsSync(path)) return;
    // `go mod download` fetches the modules in parallel (13 s for armadactl's from empty caches here); left to
    // `go install`, the same downloads took minutes.
    await step(`${name}'s modules from the Go module proxy (test/envs/${name}/go.mod)`, "go", ["-C", spec, "mod", "download"], { GOFLAGS: "-mod=readonly" });
    await step(`${name} from the Go module proxy (test/envs/${name}/go.mod)`, "go", ["-C", spec, "install", "tool"], { GOBIN: dir, GOFLAGS: "-mod=readonly" });
  });
  return path;
}

/** Rewrites test/envs/<name>/requirements.txt from its requirements.in, with hashes (used by `npm run lock:python`). */
export async function lockPythonEnv(name: string): Promise<void> {
  await installUv();
  const spec = join(SPECS, name);
  await step(
    `a lock for "${name}"`,
    UV,
    [
      "pip",
      "compile",
      "--quiet",
      "--generate-hashes",
      "--python-version",
      pythonVersion(spec),
      join(spec, "requirements.in"),
      "-o",
      join(spec, "requirements.txt"),
    ],
    {
      UV_CUSTOM_COMPILE_COMMAND: `npm run lock:python -- ${name}`,
    },
  );
}

async function installUv(): Promise<void> {
  if (existsSync(UV)) return;
  await withFileLock(join(ENVS, "uv.lock"), async () => {
    if (existsSync(UV)) return;
    const venv = join(ENVS, "uv");
    rmSync(venv, { recursive: true, force: true });
    await step("a virtual environment for uv (python3 -m venv)", "python3", ["-m", "venv", venv]);
    await step("uv from PyPI (test/envs/uv.txt)", join(venv, "bin/pip"), [
      "install",
      "--quiet",
      "--disable-pip-version-check",
      "--require-hashes",
      "-r",
      UV_SPEC,
    ]);
  });
}

/** Runs one set-up step; a failure names what could not be installed and keeps only the tool's last words. */
async function step(what: string, command: string, args: string[], extraEnv: Record<string, string> = {}): Promise<void> {
  mkdirSync(ENVS, { recursive: true });
  try {
    await run(command, args, {
      cwd: ROOT,
      timeout: ENV_TIMEOUT_MS,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, UV_PYTHON_DOWNLOADS: "never", PIP_ROOT_USER_ACTION: "ignore", ...extraEnv },
    });
  } catch (error) {
    const { stderr = "", message } = error as { stderr?: string; message: string };
    const cause = stderr.trim().split("\n").filter(Boolean).slice(-4).join("\n  ") || message;
    throw new Error(`could not install ${what}:\n  ${cause}`);
  }
}

function pythonVersion(spec: string): string {
  const file = join(spec, ".python-version");
  return existsSync(file) ? readFileSync(file, "utf8").trim() : "3.11";
}

function stampOf(dir: string): string | undefined {
  const file = join(dir, ".stamp");
  return existsSync(file) ? readFileSync(file, "utf8") : undefined;
}

function digest(...parts: string[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex");
}

if (process.argv[2] === "lock") {
  for (const name of process.argv.slice(3)) await lockPythonEnv(name);
}
