import { defineConfig } from "vitest/config";
import { unitTestFiles } from "./test/support/unit-tests.js";
import base from "./vitest.config.js";

// `npm run test:unit`: the pure modules' tests only (see test/support/unit-tests.ts), no servers or child processes.
export default defineConfig({
  // Pure modules share no state worth isolating, so one module graph per worker saves most of the run.
  test: { ...base.test, include: unitTestFiles(import.meta.dirname), isolate: false, globalSetup: [] },
});
