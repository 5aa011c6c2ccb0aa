import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PACKAGE, passedIn, pytest, usePackageIn } from "./python-package.js";

const run = promisify(execFile);

/**
 * clients/python's Airflow suite (clients/python/tests/airflow) in real Airflow, in the locked
 * environment test/envs/<envName>, with the package installed from a wheel built now.
 */
export function describeAirflow(envName: string, airflowVersion: string): void {
  const prepared = usePackageIn(envName);

  describe(`ArmadaJobOperator and ArmadaJobTrigger in Apache Airflow ${airflowVersion} (test/envs/${envName})`, () => {
    it(`is Airflow ${airflowVersion}`, async () => {
      const { env, work } = prepared();
      const { stdout } = await run(env.python, ["-c", "import airflow; print(airflow.__version__)"], { env: { ...process.env, AIRFLOW_HOME: work } });
      expect(stdout.trim().split("\n").at(-1)).toBe(airflowVersion);
    }, 60_000);

    it("passes the Airflow suite: the docs' DAG, dag.test() to every outcome, the trigger through Airflow's serializer, on_kill, retries", async () => {
      const { env, site, work } = prepared();
      // The deployment (scheduler, triggerer, … as processes) is test/clients/airflow-deployment.test.ts.
      const suite = join(PACKAGE, "tests/airflow");
      const summary = await pytest(env, site, [suite, "--ignore", join(suite, "test_deployment.py")], { AIRFLOW_HOME: join(work, "airflow-home") });
      expect(passedIn(summary), summary).toBeGreaterThanOrEqual(22);
    }, 15 * 60_000);
  });
}
