import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV_TIMEOUT_MS, pythonEnv, type PythonEnv } from "../support/python-env.js";
import { buildPackage, installForRun, PACKAGE, passedIn, pytest, workDir } from "./python-package.js";

const run = promisify(execFile);

/**
 * clients/python's Airflow suite (clients/python/tests/airflow) in real Airflow, in the locked
 * environment test/envs/<envName>, with the package installed from a wheel built now.
 */
export function describeAirflow(envName: string, airflowVersion: string): void {
  const work = workDir(envName);
  let env: PythonEnv;
  let site: string;

  beforeAll(async () => {
    env = await pythonEnv(envName);
    site = await installForRun(env, (await buildPackage(work)).wheel);
  }, ENV_TIMEOUT_MS);
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    if (site) rmSync(site, { recursive: true, force: true });
  });

  describe(`ArmadaJobOperator and ArmadaJobTrigger in Apache Airflow ${airflowVersion} (test/envs/${envName})`, () => {
    it(`is Airflow ${airflowVersion}`, async () => {
      const { stdout } = await run(env.python, ["-c", "import airflow; print(airflow.__version__)"], { env: { ...process.env, AIRFLOW_HOME: work } });
      expect(stdout.trim().split("\n").at(-1)).toBe(airflowVersion);
    }, 60_000);

    it("passes the Airflow suite: the docs' DAG, dag.test() to every outcome, the trigger through Airflow's serializer, on_kill, retries", async () => {
      const summary = await pytest(env, site, [join(PACKAGE, "tests/airflow")], { AIRFLOW_HOME: join(work, "airflow-home") });
      expect(passedIn(summary), summary).toBeGreaterThanOrEqual(19);
    }, 15 * 60_000);
  });
}
