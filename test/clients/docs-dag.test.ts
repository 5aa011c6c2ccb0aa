import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
/** The first Python block after a heading. */
const dagAfter = (text: string, heading: string) => /```python\n([\s\S]*?)```/.exec(text.slice(text.indexOf(heading)))?.[1];

describe("the README's Airflow DAG", () => {
  it("is the DAG in docs/airflow.md that the Airflow suites parse and run", () => {
    const tested = dagAfter(read("docs/airflow.md"), "## A DAG");
    expect(tested).toContain("ArmadaJobOperator(");
    expect(dagAfter(read("README.md"), "## Using it from Airflow")).toBe(tested);
  });
});
