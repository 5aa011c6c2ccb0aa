import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The order of a full run. vitest puts files it has no timings for (every file on a new machine,
 * as in CI) largest first, but the longest runs here are small files that drive Python processes:
 * left to the end, they would run on their own while the other worker idles. They go first, the
 * longest first; the files that need armadactl go last, as its first build (minutes on a machine
 * with empty Go caches, started by test/support/prewarm-envs.ts) runs in the background meanwhile.
 */
const FIRST = [
  // Five minutes here: armada-airflow 1.1.3 in Airflow 3 and in Airflow 2, one after the other.
  "test/clients/armada-airflow.test.ts",
  "test/clients/airflow-3.test.ts",
  "test/clients/airflow-2.test.ts",
  "test/clients/airflow-deployment.test.ts",
  "test/faults/chaos-store.test.ts",
  "test/docs-examples.test.ts",
  "test/faults/chaos-process.test.ts",
  "test/faults/chaos-rollback.test.ts",
  "test/clients/python.test.ts",
  "test/clients/python-package.test.ts",
  "test/auth/armada.test.ts",
  "test/ecosystem/original-operator.test.ts",
];
const LAST = ["test/ecosystem/armadactl.test.ts", "test/ecosystem/armadactl-passthrough.test.ts", "test/ecosystem/simulator-docs.test.ts"];

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification): number => {
      const path = file.moduleId.slice(file.project.config.root.length + 1);
      const first = FIRST.indexOf(path);
      if (first >= 0) return first - FIRST.length;
      return LAST.includes(path) ? 1 : 0;
    };
    // Array.prototype.sort is stable: the rest keep vitest's order.
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}
