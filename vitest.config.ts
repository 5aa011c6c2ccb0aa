import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Suites start real servers (redis-server, the simulator, the service) on
    // free loopback ports; two cores are enough for a few files at a time.
    maxWorkers: 2,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // Makes the Python environments and armadactl in the background from the start (minutes when cold).
    globalSetup: ["./test/support/prewarm-envs.ts"],
  },
});
