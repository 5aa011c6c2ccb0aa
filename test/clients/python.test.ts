import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = new URL("../..", import.meta.url).pathname;
const PACKAGE = join(ROOT, "clients/python");
const PYTHON = "/usr/bin/python3"; // Debian's, which has python3-grpcio, python3-protobuf and python3-pytest
const work = mkdtempSync(join(tmpdir(), "jobservice-python-"));
const site = join(work, "site");

/** Builds the wheel offline from a copy of the package (setuptools writes into its source tree) and installs it into `site`. */
beforeAll(async () => {
  cpSync(PACKAGE, join(work, "src"), { recursive: true, filter: (path) => !/(__pycache__|\.egg-info|\/build)$/.test(path) });
  await run(PYTHON, ["-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", join(work, "dist"), join(work, "src")]);
  const [wheel = ""] = readdirSync(join(work, "dist")).filter((name) => name.endsWith(".whl"));
  await run(PYTHON, ["-m", "pip", "install", "--no-deps", "--no-index", "--target", site, join(work, "dist", wheel)], { env: { ...process.env, PIP_ROOT_USER_ACTION: "ignore" } });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the Python package clients/python", () => {
  it("installs from its wheel with its descriptor set", async () => {
    const { stdout } = await run(PYTHON, ["-c", "import armada_jobservice.protos as p, armada_jobservice as a; print(a.__file__); print(p.JobServiceRequest.DESCRIPTOR.full_name)"], {
      env: { ...process.env, PYTHONPATH: site },
      cwd: work,
    });
    expect(stdout.split("\n").slice(0, 2)).toEqual([join(site, "armada_jobservice/__init__.py"), "jobservice.JobServiceRequest"]);
  });

  it("ships the descriptor set that `buf build` makes from proto/ now", async () => {
    const fresh = join(work, "descriptors.binpb");
    await run("npx", ["buf", "build", "--exclude-source-info", "-o", fresh], { cwd: ROOT });
    expect(readFileSync(join(PACKAGE, "armada_jobservice/descriptors.binpb")).equals(readFileSync(fresh)), "run `npm run generate` and commit").toBe(true);
  });

  it("passes its pytest suite against the live Job Service and simulator, installed from the wheel", async () => {
    const result = await run(PYTHON, ["-m", "pytest", join(PACKAGE, "tests"), "-q", "-p", "no:cacheprovider"], {
      cwd: ROOT,
      env: { ...process.env, PYTHONPATH: site, PYTHONDONTWRITEBYTECODE: "1" },
    }).catch((error: { code?: number; stdout?: string; stderr?: string }) => {
      // Exit code 5 is pytest's "no tests collected": a failure here, never a pass.
      throw new Error(`pytest exited ${String(error.code)}${error.code === 5 ? " (no tests collected)" : ""}\n${error.stdout ?? ""}${error.stderr ?? ""}`);
    });
    const summary = result.stdout.trim().split("\n").at(-1) ?? "";
    expect(summary).toMatch(/^\d+ passed in /);
    expect(Number(summary.split(" ")[0])).toBeGreaterThanOrEqual(75);
  }, 120_000);
});
