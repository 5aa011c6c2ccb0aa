import type { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { jobSetKeys } from "../../src/store/keys.js";
import type { JobStore } from "../../src/store/store.js";
import { createUpstashStore } from "../../src/store/upstash.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { startUpstashGateway, type UpstashGateway } from "../support/upstash-gateway.js";
import { CONTRACT_TTL_SECONDS, describeStoreContract, freshJobSet, progress, record } from "./contract.js";
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
    await store.write(jobSet, { jobs, progress: progress("c1") });
    expect(gateway.requestCount() - before).toBe(1);
    expect(await admin.hlen(jobSetKeys(jobSet).jobs)).toBe(500);
  });

  it("reads a job with its job set's progress in one HTTP request", async () => {
    const jobSet = freshJobSet();
    await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c1") });
    const before = gateway.requestCount();
    await expect(store.read({ ...jobSet, jobId: "j" })).resolves.toStrictEqual({ job: record(), progress: progress("c1") });
    await store.readJobs(jobSet, ["j", "k"]);
    expect(gateway.requestCount() - before).toBe(2);
  });

  it("says the token was refused", async () => {
    const intruder = createUpstashStore({ url: gateway.url, token: "wrong-token", ttlSeconds: 60 });
    await expect(intruder.ping()).rejects.toThrow(/^Upstash REST request failed: Unauthorized/);
    await expect(intruder.read({ ...freshJobSet(), jobId: "j" })).rejects.toThrow(/Unauthorized/);
  });

  it("reports a refused write without echoing the whole batch", async () => {
    const jobSet = freshJobSet();
    await admin.set(jobSetKeys(jobSet).jobs, "not a hash", "EX", 60);
    const jobs = new Map(Array.from({ length: 100 }, (_, i) => [`job-${i}`, record()] as const));
    const message = await store.write(jobSet, { jobs, progress: progress("c1") }).then(
      () => "written",
      (error: Error) => error.message,
    );
    expect(message).toMatch(/^Upstash REST request failed: .*WRONGTYPE/);
    expect(message.length).toBeLessThan(500);
    expect(await admin.exists(jobSetKeys(jobSet).progress)).toBe(0);
  });

  it("rejects when the REST endpoint is gone", async () => {
    const doomed = await startUpstashGateway({ redisUrl: server.url, token: token });
    const victim = createUpstashStore({ url: doomed.url, token: token, ttlSeconds: 60 });
    await victim.ping();
    await doomed.stop();
    await expect(victim.ping()).rejects.toThrow(/^Upstash REST request failed/);
  });

  it("rejects when the Redis behind the endpoint is down", async () => {
    const doomedRedis = await startRedisServer();
    const doomed = await startUpstashGateway({ redisUrl: doomedRedis.url, token: token });
    const victim = createUpstashStore({ url: doomed.url, token: token, ttlSeconds: 60 });
    try {
      await victim.ping();
      await doomedRedis.stop();
      await expect(victim.ping()).rejects.toThrow(/^Upstash REST request failed/);
    } finally {
      await doomed.stop();
    }
  });
});
