import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/observability/logger.js";
import { jobSetKeys } from "../../src/store/keys.js";
import { openStore, type StoreSpec } from "../../src/store/open.js";
import { freshJobSet, progress, record } from "./contract.js";
import { useRedisBackends } from "./redis-backends.js";

describe("openStore", () => {
  const backends = useRedisBackends();
  const logger = createLogger("silent");

  /** Writes one job through the spec's store and reads it back. */
  async function roundTrip(spec: StoreSpec) {
    const store = openStore(spec, { ttlSeconds: 60, logger });
    try {
      const jobSet = freshJobSet();
      await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c") }, { expected: undefined, fence: 0 });
      await expect(store.read({ ...jobSet, jobId: "j" })).resolves.toStrictEqual({ job: record(), progress: progress("c") });
      return { inRedis: (await backends().admin.exists(jobSetKeys(jobSet).jobs)) === 1 };
    } finally {
      await store.close();
    }
  }

  it("keeps the memory store to itself", async () => {
    await expect(roundTrip({ kind: "memory" })).resolves.toStrictEqual({ inRedis: false });
  });

  it("writes a redis store to Redis directly", async () => {
    const { gateway, server } = backends();
    const requests = gateway.requestCount();
    await expect(roundTrip({ kind: "redis", url: server.url })).resolves.toStrictEqual({ inRedis: true });
    expect(gateway.requestCount()).toBe(requests);
  });

  it("writes an upstash store through the REST endpoint", async () => {
    const { gateway, token } = backends();
    const requests = gateway.requestCount();
    await expect(roundTrip({ kind: "upstash", url: gateway.url, token })).resolves.toStrictEqual({ inRedis: true });
    expect(gateway.requestCount()).toBeGreaterThan(requests);
  });
});
