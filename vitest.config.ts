import { defineConfig } from "vitest/config";
import SlowFirstSequencer from "./test/support/sequencer.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Suites start real servers (redis-server, the simulator, the service) on free loopback ports;
    // the Python and Airflow files mostly wait on their processes, so three files at a time pay on two cores.
    maxWorkers: 3,
    sequence: { sequencer: SlowFirstSequencer },
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // Makes the Python environments and armadactl in the background from the start (minutes when cold).
    globalSetup: ["./test/support/prewarm-envs.ts"],
  },
});
