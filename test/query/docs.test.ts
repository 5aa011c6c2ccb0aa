import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SETTINGS } from "../../src/config/settings.js";

const doc = readFileSync(new URL("../../docs/query-api.md", import.meta.url), "utf8");

describe("docs/query-api.md", () => {
  it("shows the DAG the Airflow tests run, as it is", () => {
    const block = /```python\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBe(readFileSync(new URL("../../examples/airflow-armada/armada_operator_dag.py", import.meta.url), "utf8"));
  });

  it("names the passthrough's setting as the settings table does", () => {
    const setting = SETTINGS.find((s) => s.flag === "armada-passthrough");
    expect(setting?.default).toBe("false");
    expect(doc).toContain(`${setting?.env}=true`);
  });
});
