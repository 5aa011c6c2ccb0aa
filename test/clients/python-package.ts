import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll } from "vitest";
import { ENV_TIMEOUT_MS, pythonEnv, ROOT, UV, type PythonEnv } from "../support/python-env.js";

const run = promisify(execFile);
export const PACKAGE = join(ROOT, "clients/python");

export interface BuiltPackage {
  readonly dist: string;
  readonly wheel: string;
  readonly sdist: string;
}

/**
 * clients/python built now, as sdist and wheel, with `uv build` (its build backend pinned in
 * pyproject.toml), from a copy of the sources: setuptools writes into the tree it builds.
 */
export async function buildPackage(work: string): Promise<BuiltPackage> {
  const source = join(work, "src");
  cpSync(PACKAGE, source, { recursive: true, filter: (path) => !/(__pycache__|\.egg-info|\/build|\/dist)$/.test(path) });
  const dist = join(work, "dist");
  await run(UV, ["build", "--quiet", "--out-dir", dist, source], { cwd: work, timeout: 300_000 }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`could not build clients/python with uv build (its backend, setuptools as pinned in pyproject.toml, comes from PyPI):\n  ${lastLines(error)}`);
  });
  const files = readdirSync(dist);
  const find = (suffix: string): string => join(dist, files.find((name) => name.endsWith(suffix)) ?? `(no ${suffix} in ${dist})`);
  return { dist, wheel: find(".whl"), sdist: find(".tar.gz") };
}

/**
 * The wheel installed for one test run into a folder of its own (`--no-deps`: the environment has its
 * dependencies), to go on PYTHONPATH: the shared environment itself is never changed, so test files
 * in other workers using it see no half-installed package.
 */
export async function installForRun(env: PythonEnv, wheel: string): Promise<string> {
  const site = mkdtempSync(join(tmpdir(), `jobservice-${env.name}-site-`));
  await run(UV, ["pip", "install", "--quiet", "--no-deps", "--reinstall", "--python", env.python, "--target", site, wheel], { timeout: 120_000 }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`could not install the wheel ${wheel} for the "${env.name}" environment:\n  ${lastLines(error)}`);
  });
  return site;
}

/** A failed tool's last words, not a wall of its output. */
function lastLines({ stderr = "", message }: { stderr?: string; message: string }): string {
  return stderr.trim().split("\n").filter(Boolean).slice(-4).join("\n  ") || message;
}

/** pytest in `env` with the installed package; rejects with pytest's output when it does not pass. */
export async function pytest(env: PythonEnv, site: string, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const result = await run(env.python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", ...args], {
    cwd: ROOT,
    env: { ...process.env, PYTHONPATH: site, PYTHONDONTWRITEBYTECODE: "1", ...extraEnv },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 20 * 60_000,
  }).catch((error: { code?: number; stdout?: string; stderr?: string }) => {
    // Exit code 5 is pytest's "no tests collected": a failure here, never a pass.
    throw new Error(`pytest exited ${String(error.code)}${error.code === 5 ? " (no tests collected)" : ""}\n${error.stdout ?? ""}${error.stderr ?? ""}`);
  });
  return result.stdout.trim().split("\n").at(-1) ?? "";
}

/** How many tests a pytest summary line says passed; it must say nothing else (failed, errors, skipped). */
export function passedIn(summary: string): number {
  const match = /^(\d+) passed(?:, \d+ warnings?)? in /.exec(summary);
  return match ? Number(match[1]) : 0;
}

export function workDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `jobservice-${name}-`));
}

export interface PackageRun {
  readonly env: PythonEnv;
  /** Where the wheel is installed for this run (PYTHONPATH). */
  readonly site: string;
  /** A temporary folder of this test file's own. */
  readonly work: string;
}

/**
 * For a test file: the environment test/envs/<envName> made (or reused) and the package built now and
 * installed for this run, before its tests; everything temporary removed after them.
 */
export function usePackageIn(envName: string): () => PackageRun {
  const work = workDir(envName);
  let prepared: PackageRun | undefined;
  beforeAll(async () => {
    const env = await pythonEnv(envName);
    prepared = { env, site: await installForRun(env, (await buildPackage(work)).wheel), work };
  }, ENV_TIMEOUT_MS);
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    if (prepared) rmSync(prepared.site, { recursive: true, force: true });
  });
  return () => {
    if (!prepared) throw new Error(`the "${envName}" environment was not prepared (see the beforeAll error)`);
    return prepared;
  };
}
