import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PACKAGE, passedIn, pytest, usePackageIn } from "./python-package.js";

// Once, on one Airflow (3.3): the whole deployment, every component a process of its own.
const prepared = usePackageIn("airflow-3");

describe("Apache Airflow 3.3 deployed: API server, scheduler, DAG processor and triggerer as processes", () => {
  it("runs the docs' DAG, triggered from the CLI, to success with its trigger in the triggerer", async () => {
    const { env, site, work } = prepared();
    const summary = await pytest(env, site, [join(PACKAGE, "tests/airflow/test_deployment.py")], { AIRFLOW_HOME: join(work, "airflow-home") });
    expect(passedIn(summary), summary).toBe(1);
  }, 15 * 60_000);
});
