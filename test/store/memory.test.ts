import { describe, expect, it } from "vitest";
import { createMemoryStore } from "../../src/store/memory.js";
import { FIRST, describeStoreContract, freshJobSet, progress, record } from "./contract.js";
import { moduleUrl, runScript } from "./run-script.js";

describeStoreContract("memory", async ({ ttlSeconds }) => {
  let clock = 1_700_000_000_000;
  const store = createMemoryStore({ ttlSeconds, now: () => clock });
  return {
    store,
    reader: store,
    elapse: async (_jobSet, ms) => {
      clock += ms;
    },
    close: () => store.close(),
  };
});

describe("memory store", () => {
  it("refuses a time to live that is not a positive whole number of seconds", () => {
    expect(() => createMemoryStore({ ttlSeconds: 0 })).toThrow(/ttlSeconds must be a positive integer, got 0/);
    expect(() => createMemoryStore({ ttlSeconds: 1.5 })).toThrow(/ttlSeconds/);
  });

  it("keeps copies of what it is given and hands out frozen records, so callers cannot change stored jobs", async () => {
    const store = createMemoryStore({ ttlSeconds: 60 });
    const jobSet = freshJobSet();
    const job = { ...record() };
    await store.write(jobSet, { jobs: new Map([["j", job]]), progress: progress("c") }, FIRST);
    (job as { node?: string }).node = "changed after the write";
    const first = await store.read({ ...jobSet, jobId: "j" });
    expect(() => {
      (first.job as { node?: string }).node = "changed after the read";
    }).toThrow(TypeError);
    await expect(store.read({ ...jobSet, jobId: "j" })).resolves.toStrictEqual({ job: record(), progress: progress("c") });
    await store.close();
  });

  it("does not keep the process alive with its expiry timer", async () => {
    const script = `import { createMemoryStore } from ${JSON.stringify(moduleUrl("src/store/memory.ts"))};
      createMemoryStore({ ttlSeconds: 1 });`;
    const outcome = await runScript(script, { timeoutMs: 15_000 });
    expect(outcome.exit, outcome.stderr).toBe(0);
  });
});
