import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { SETTINGS } from "../../src/config/settings.js";
import { startSimulator } from "../../src/simulator/index.js";
import { startFullTestService } from "../support/service.js";

const run = promisify(execFile);
const doc = readFileSync(new URL("../../docs/query-api.md", import.meta.url), "utf8");

describe("docs/query-api.md", () => {
  it("shows the DAG the Airflow tests run, as it is", () => {
    const block = /```python\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBe(readFileSync(new URL("../../examples/airflow-armada/armada_operator_dag.py", import.meta.url), "utf8"));
  });

  it("is the DAG the README's section on today's operator shows", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Today's Armada Airflow operator"));
    const block = /```python\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(readFileSync(new URL("../../examples/airflow-armada/armada_operator_dag.py", import.meta.url), "utf8"));
  });

  it("names the passthrough's setting as the settings table does", () => {
    const setting = SETTINGS.find((s) => s.flag === "armada-passthrough");
    expect(setting?.default).toBe("false");
    expect(doc).toContain(`${setting?.env}=true`);
  });
});

describe("docs/query-api.md's REST example", () => {
  it("gives the answer the docs show, run as written against a service", async () => {
    const example = /```sh\n(curl -s -X POST localhost:60003\/v1\/job\/status .*)\n# (.*)\n```/.exec(doc);
    expect(example).not.toBeNull();
    const [, command, shown] = example!;
    const jobId = /"jobIds": \["([0-9A-Z]+)"\]/.exec(command!)?.[1] ?? "";
    const sim = await startSimulator({ queues: ["q"] });
    const service = await startFullTestService(sim.url);
    try {
      sim.appendEvents("q", "s", [
        { events: { case: "submitted", value: { jobId, queue: "q", jobSetId: "s" } } },
        { events: { case: "succeeded", value: { jobId, queue: "q", jobSetId: "s" } } },
      ]);
      const { stdout } = await run("/bin/sh", ["-c", command!.replace("localhost:60003", service.url.replace(/^http:\/\//, ""))]);
      expect(stdout).toBe(shown);
    } finally {
      await service.stop();
      await sim.close();
    }
  });
});
