import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV_TIMEOUT_MS, pythonEnv, ROOT, UV } from "../support/python-env.js";
import { buildPackage, PACKAGE, workDir, type BuiltPackage } from "./python-package.js";

const run = promisify(execFile);
const work = workDir("python-package");
const clean = join(work, "clean-env");
const airflowHome = join(work, "airflow-home");
const VERSION = /^__version__ = "([^"]+)"$/m.exec(readFileSync(join(PACKAGE, "armada_jobservice/__init__.py"), "utf8"))?.[1];
let built: BuiltPackage;

/** A Python one-liner's last line of output in the clean environment. */
async function inClean(code: string): Promise<string> {
  const { stdout } = await run(join(clean, "bin/python"), ["-c", code], { cwd: work, env: { ...process.env, AIRFLOW_HOME: airflowHome } });
  return stdout.trim().split("\n").at(-1) ?? "";
}

// A clean environment with nothing but `armada-jobservice[airflow]` from the wheel, its dependencies
// resolved by uv and held to the Airflow 3 lock's versions (from uv's cache once that env exists).
beforeAll(async () => {
  await pythonEnv("airflow-3");
  built = await buildPackage(work);
  mkdirSync(airflowHome);
  await run(UV, ["venv", "--quiet", "--python", "3.11", clean], { env: { ...process.env, UV_PYTHON_DOWNLOADS: "never" } });
  const constraints = join(ROOT, "test/envs/airflow-3/requirements.txt");
  await run(UV, ["pip", "install", "--quiet", "--python", join(clean, "bin/python"), "-c", constraints, `armada-jobservice[airflow] @ file://${built.wheel}`], { timeout: ENV_TIMEOUT_MS });
}, ENV_TIMEOUT_MS);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the package armada-jobservice as users install it", () => {
  it("builds as an sdist and a wheel that both ship py.typed and the descriptor set", async () => {
    const { stdout: wheel } = await run("python3", ["-m", "zipfile", "-l", built.wheel]);
    const { stdout: sdist } = await run("tar", ["-tzf", built.sdist]);
    for (const file of ["armada_jobservice/py.typed", "armada_jobservice/descriptors.binpb", "armada_jobservice/operator.py"]) {
      expect(wheel).toContain(file);
      expect(sdist).toContain(file);
    }
  });

  it("takes its version from armada_jobservice.__version__ alone", async () => {
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(readFileSync(join(PACKAGE, "pyproject.toml"), "utf8")).toMatch(/^dynamic = \["version"\]$/m);
    expect(built.wheel).toContain(`armada_jobservice-${VERSION}-py3-none-any.whl`);
    expect(await inClean("import importlib.metadata as m, armada_jobservice as a; print(m.version('armada-jobservice'), a.__version__)")).toBe(`${VERSION} ${VERSION}`);
  });

  it("installs with the airflow extra: Airflow, armada-client's PodSpec messages and the operator import", async () => {
    const line = await inClean(
      "import airflow; from armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1; from armada_jobservice.operator import ArmadaJobOperator; print(airflow.__version__, core_v1.PodSpec.DESCRIPTOR.full_name)",
    );
    expect(line).toBe("3.3.2 k8s.io.api.core.v1.PodSpec");
  }, 60_000);

  it("shows in `airflow providers list` with its connection type in `airflow providers hooks`", async () => {
    const cli = join(clean, "bin/airflow");
    const options = { cwd: work, env: { ...process.env, AIRFLOW_HOME: airflowHome }, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 };
    const [{ stdout: providers }, { stdout: hooks }] = await Promise.all([run(cli, ["providers", "list", "-o", "json"], options), run(cli, ["providers", "hooks", "-o", "json"], options)]);
    const ours = (JSON.parse(providers) as Array<{ package_name: string; version: string }>).filter((p) => p.package_name === "armada-jobservice");
    expect(ours.map((p) => p.version)).toEqual([VERSION]);
    const armadaHook = (JSON.parse(hooks) as Array<{ connection_type: string; class: string }>).filter((h) => h.connection_type === "armada");
    expect(armadaHook).toEqual([expect.objectContaining({ class: "armada_jobservice.operator.ArmadaHook", package_name: "armada-jobservice" })]);
  }, 240_000);
});
