import type { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { jobSetKeys } from "../../src/store/keys.js";
import type { JobStore } from "../../src/store/store.js";
import { createUpstashStore } from "../../src/store/upstash.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { startUpstashGateway, type UpstashGateway } from "../support/upstash-gateway.js";
import { CONTRACT_TTL_SECONDS, FIRST, after, describeStoreContract, freshJobSet, progress, record } from "./contract.js";
import { subjectOnRedis, useRedisBackends } from "./redis-backends.js";

const backends = useRedisBackends();

describeStoreContract("upstash", async ({ ttlSeconds }) => {
  const { gateway, token, admin } = backends();
  return subjectOnRedis(() => createUpstashStore({ url: gateway.url, token, ttlSeconds }), admin);
});

describe("upstash store", () => {
  let store: JobStore;
  let gateway: UpstashGateway;
  let admin: Redis;
  let server: RedisServer;
  let token: string;

  beforeAll(() => {
    ({ gateway, admin, server, token: token } = backends());
    store = createUpstashStore({ url: gateway.url, token: token, ttlSeconds: CONTRACT_TTL_SECONDS });
  });

  it("writes a batch of 500 jobs and the cursor in one HTTP request", async () => {
    const jobSet = freshJobSet();
    const jobs = new Map(Array.from({ length: 500 }, (_, i) => [`job-${i}`, record({ runAttempts: i })] as const));
    const before = gateway.requestCount();
    await store.write(jobSet, { jobs, progress: progress("c1") }, FIRST);
    expect(gateway.requestCount() - before).toBe(1);
    expect(await admin.hlen(jobSetKeys(jobSet).jobs)).toBe(500 + 3);
  });

  it("reads a job with its job set's progress in one HTTP request", async () => {
    const jobSet = freshJobSet();
    await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c1") }, FIRST);
    const before = gateway.requestCount();
    await expect(store.read({ ...jobSet, jobId: "j" })).resolves.toStrictEqual({ job: record(), progress: progress("c1") });
    await store.readJobs(jobSet, ["j", "k"]);
    expect(gateway.requestCount() - before).toBe(2);
  });

  it("says the token was refused", async () => {
    const intruder = createUpstashStore({ url: gateway.url, token: "wrong-token", ttlSeconds: 60 });
    await expect(intruder.ping()).rejects.toThrow(/^Upstash REST store at http:\/\/127\.0\.0\.1:\d+\/: request failed: Unauthorized/);
    await expect(intruder.read({ ...freshJobSet(), jobId: "j" })).rejects.toThrow(/Unauthorized/);
  });

  it("reports a refused write without echoing the whole batch", async () => {
    const jobSet = freshJobSet();
    await admin.set(jobSetKeys(jobSet).jobs, "not a hash", "EX", 60);
    const jobs = new Map(Array.from({ length: 100 }, (_, i) => [`job-${i}`, record()] as const));
    const message = await store.write(jobSet, { jobs, progress: progress("c1") }, FIRST).then(
      () => "written",
      (error: Error) => error.message,
    );
    expect(message).toMatch(/^Upstash REST store at http:\/\/127\.0\.0\.1:\d+\/: request failed: .*WRONGTYPE/);
    expect(message.length).toBeLessThan(500);
    expect(await admin.get(jobSetKeys(jobSet).jobs)).toBe("not a hash");
  });

  it("rejects when the REST endpoint is gone", async () => {
    const doomed = await startUpstashGateway({ redisUrl: server.url, token: token });
    const victim = createUpstashStore({ url: doomed.url, token: token, ttlSeconds: 60 });
    await victim.ping();
    await doomed.stop();
    await expect(victim.ping()).rejects.toThrow(/^Upstash REST store at http:\/\/127\.0\.0\.1:\d+\/: request failed \(after 6 attempts\)/);
  });

  it("rejects when the Redis behind the endpoint is down", async () => {
    const doomedRedis = await startRedisServer();
    const doomed = await startUpstashGateway({ redisUrl: doomedRedis.url, token: token });
    const victim = createUpstashStore({ url: doomed.url, token: token, ttlSeconds: 60 });
    try {
      await victim.ping();
      await doomedRedis.stop();
      await expect(victim.ping()).rejects.toThrow(/^Upstash REST store at .*: request failed/);
    } finally {
      await doomed.stop();
    }
  });

  describe.each([429, 500, 502, 503] as const)("when the gateway answers %i", (status) => {
    it("retries with backoff and loses nothing, whether the failed request reached Redis or not", async () => {
      const jobSet = freshJobSet();
      try {
        gateway.setFault({ status, every: 2 });
        const faultsBefore = gateway.faultsServed();
        let cursor: string | undefined;
        for (let n = 1; n <= 6; n++) {
          await store.write(
            jobSet,
            { jobs: new Map([[`job-${n}`, record({ runAttempts: n })]]), progress: progress(`c${n}`) },
            cursor === undefined ? FIRST : after(cursor),
          );
          cursor = `c${n}`;
          await expect(store.read({ ...jobSet, jobId: `job-${n}` })).resolves.toStrictEqual({ job: record({ runAttempts: n }), progress: progress(`c${n}`) });
        }
        expect(gateway.faultsServed() - faultsBefore).toBeGreaterThanOrEqual(6);
        // The answer is lost after Redis ran the write: the retry finds its own write and is refused, nothing is applied twice.
        gateway.setFault({ status, every: 1, afterRedis: true });
        await expect(store.write(jobSet, { jobs: new Map([["late", record()]]), progress: progress("c7") }, after("c6"))).rejects.toThrow(
          /request failed \(after 6 attempts\)/,
        );
        gateway.setFault(undefined);
        await expect(store.read({ ...jobSet, jobId: "late" })).resolves.toStrictEqual({ job: record(), progress: progress("c7") });
        await expect(store.write(jobSet, { jobs: new Map(), progress: progress("c8") }, after("c6"))).rejects.toMatchObject({ reason: "stale" });
      } finally {
        gateway.setFault(undefined);
      }
    });
  });

  it("waits out slow answers instead of failing them", async () => {
    const jobSet = freshJobSet();
    try {
      gateway.setFault({ delayMs: 300 });
      await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c1") }, FIRST);
      await expect(store.read({ ...jobSet, jobId: "j" })).resolves.toStrictEqual({ job: record(), progress: progress("c1") });
    } finally {
      gateway.setFault(undefined);
    }
  });

  it("does not retry what Redis refused: a wrong token or a wrong type answers the same every time", async () => {
    const intruder = createUpstashStore({ url: gateway.url, token: "wrong-token", ttlSeconds: 60 });
    const before = gateway.requestCount();
    await expect(intruder.ping()).rejects.toThrow(/Unauthorized/);
    expect(gateway.requestCount() - before).toBe(1);
  });
});
