import type { Reporter, TestModule } from "vitest/node";

/**
 * Ends a run with one plain line, "N passed, N failed[, N skipped]", that CI
 * systems read without parsing vitest's coloured summary.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const count = (state: "passed" | "failed" | "skipped"): number => testModules.reduce((sum, module) => sum + [...module.children.allTests(state)].length, 0);
    const failedModules = testModules.filter((module) => module.state() === "failed" && [...module.children.allTests()].length === 0).length;
    const skipped = count("skipped");
    const line = `${count("passed")} passed, ${count("failed") + failedModules} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`;
    process.stdout.write(`\n${line}\n`);
  }
}
