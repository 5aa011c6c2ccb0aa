import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, type Logger } from "../../src/observability/logger.js";
import { jobField, jobSetKeys } from "../../src/store/keys.js";
import { createRedisStore } from "../../src/store/redis.js";
import type { JobStore } from "../../src/store/store.js";
import { freePort } from "../support/free-port.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { selfSignedCertificate } from "../support/tls.js";
import { CONTRACT_TTL_SECONDS, FIRST, after, describeStoreContract, freshJobSet, progress, record } from "./contract.js";
import { subjectOnRedis, useRedisBackends } from "./redis-backends.js";
import { moduleUrl, runScript } from "./run-script.js";

const backends = useRedisBackends();
let server: RedisServer;
let admin: Redis;

beforeAll(() => {
  ({ server, admin } = backends());
});

describeStoreContract("redis", async ({ ttlSeconds }) => subjectOnRedis(() => createRedisStore({ url: server.url, ttlSeconds }), admin));

/** A logger whose lines land in `lines`. */
function capturingLogger(lines: string[]): Logger {
  return createLogger("debug", new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) }));
}

/** Resolves with "hung" if the promise neither resolves nor rejects in time. */
function settledWithin<T>(promise: Promise<T>, ms: number): Promise<PromiseSettledResult<T> | "hung"> {
  const hung = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), ms).unref());
  return Promise.race([Promise.allSettled([promise]).then(([settled]) => settled as PromiseSettledResult<T>), hung]);
}

describe("redis store", () => {
  let store: JobStore;
  const ttlMs = CONTRACT_TTL_SECONDS * 1000;

  beforeAll(() => {
    store = createRedisStore({ url: server.url, ttlSeconds: CONTRACT_TTL_SECONDS });
  });
  afterAll(async () => {
    await store?.close();
  });

  it("sets every key of a job set to expire after the time to live, and the lease after its own time", async () => {
    const jobSet = freshJobSet();
    const keys = jobSetKeys(jobSet);
    await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c") }, FIRST);
    await store.lease(jobSet, "replica-a", 5_000);
    const remaining = await admin.pttl(keys.jobs);
    expect(remaining).toBeGreaterThan(ttlMs - 10_000);
    expect(remaining).toBeLessThanOrEqual(ttlMs);
    const lease = await admin.pttl(keys.lease);
    expect(lease).toBeGreaterThan(0);
    expect(lease).toBeLessThanOrEqual(5_000);
  });

  it("refreshes every data key's time to live on write and on lease, without stretching the lease", async () => {
    const jobSet = freshJobSet();
    const keys = jobSetKeys(jobSet);
    await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c") }, FIRST);
    await store.lease(jobSet, "replica-a", 5_000);
    for (const refresh of [
      () => store.write(jobSet, { jobs: new Map(), progress: progress("c2") }, after("c")),
      () => store.lease(jobSet, "replica-a", 5_000),
    ]) {
      await admin.pexpire(keys.jobs, 1_000);
      await admin.pexpire(keys.lease, 1_000);
      await refresh();
      expect(await admin.pttl(keys.jobs)).toBeGreaterThan(ttlMs - 10_000);
    }
    expect(await admin.pttl(keys.lease)).toBeLessThanOrEqual(5_000);
  });

  it("leaves no key without a time to live", async () => {
    const jobSet = freshJobSet();
    await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c") }, FIRST);
    await store.lease(jobSet, "replica-a", 5_000);
    await store.lease(freshJobSet(), "replica-a", 5_000);
    const keys = await admin.keys("*");
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(await admin.pttl(key)).toBeGreaterThan(0);
  });

  it("keeps the cursor where it was when Redis refuses a write", async () => {
    const jobSet = freshJobSet();
    const keys = jobSetKeys(jobSet);
    await admin.set(keys.jobs, "not a hash", "EX", 60);
    await expect(store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c1") }, FIRST)).rejects.toThrow(/WRONGTYPE/);
    expect(await admin.get(keys.jobs)).toBe("not a hash");
  });

  it("keeps all of a job set's data in one key, so eviction drops all of it or none", async () => {
    const jobSet = freshJobSet();
    await store.write(
      jobSet,
      {
        jobs: new Map([
          ["a", record()],
          ["b", record()],
        ]),
        progress: progress("c"),
      },
      FIRST,
    );
    await store.lease(jobSet, "replica-a", 5_000);
    const keys = await admin.keys(`*${jobSetKeys(jobSet).jobs.slice("jobservice:".length, -":jobs".length)}*`);
    expect(keys.sort()).toEqual([jobSetKeys(jobSet).jobs, jobSetKeys(jobSet).lease].sort());
    await admin.del(jobSetKeys(jobSet).jobs);
    await expect(store.read({ ...jobSet, jobId: "a" })).resolves.toStrictEqual({});
    await expect(store.write(jobSet, { jobs: new Map([["c", record()]]), progress: progress("c2") }, after("c"))).rejects.toMatchObject({ reason: "stale" });
  });

  it("refuses a write after FLUSHALL, as after a restart without persistence or a failover to an empty replica", async () => {
    const jobSet = freshJobSet();
    const lease = await store.lease(jobSet, "replica-a", 5_000);
    await store.write(jobSet, { jobs: new Map([["a", record()]]), progress: progress("c") }, { expected: undefined, fence: lease!.fence });
    await admin.flushall();
    await expect(
      store.write(jobSet, { jobs: new Map([["b", record()]]), progress: progress("c2") }, { expected: "c", fence: lease!.fence }),
    ).rejects.toMatchObject({ reason: "stale" });
    const again = await store.lease(jobSet, "replica-a", 5_000);
    expect(again).toMatchObject({ stored: false });
    expect(again!.fence).toBeGreaterThan(lease!.fence);
  });

  it("says which job is corrupt instead of returning garbage", async () => {
    const jobSet = freshJobSet("corrupt-queue");
    const keys = jobSetKeys(jobSet);
    await admin.hset(keys.jobs, jobField("j"), '[2,"running"', ":progress", "not json");
    await expect(store.read({ ...jobSet, jobId: "j" })).rejects.toThrow(/corrupt job record of job "j" of job set ".*" in queue "corrupt-queue"/);
    await expect(store.readJobs(jobSet, ["j"])).rejects.toThrow(/corrupt job record/);
    await expect(store.read({ ...jobSet, jobId: "other" })).rejects.toThrow(/corrupt job set progress/);
  });

  it("loads its scripts again after Redis forgot them", async () => {
    const jobSet = freshJobSet();
    await admin.script("FLUSH");
    await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c") }, FIRST);
    await expect(store.read({ ...jobSet, jobId: "j" })).resolves.toStrictEqual({ job: record(), progress: progress("c") });
  });

  it("uses the database named in the URL", async () => {
    const inDb3 = createRedisStore({ url: `${server.url}/3`, ttlSeconds: 60 });
    const db3 = new Redis(`${server.url}/3`);
    try {
      const jobSet = freshJobSet();
      await inDb3.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c") }, FIRST);
      expect(await db3.exists(jobSetKeys(jobSet).jobs)).toBe(1);
      expect(await admin.exists(jobSetKeys(jobSet).jobs)).toBe(0);
    } finally {
      db3.disconnect();
      await inDb3.close();
    }
  });

  it("holds a cached job in at most 250 bytes of Redis memory", async () => {
    const jobSet = freshJobSet();
    const count = 10_000;
    const jobs = new Map(Array.from({ length: count }, (_, i) => [ulidLike(i), realisticRecord(i)] as const));
    expect(jobs.size).toBe(count);
    await store.write(jobSet, { jobs, progress: progress("1732300000000:12:0:3") }, FIRST);
    // The jobs plus the reserved progress, cursor and fence fields.
    expect(await admin.hlen(jobSetKeys(jobSet).jobs)).toBe(count + 3);
    const bytes = Number(await admin.call("MEMORY", "USAGE", jobSetKeys(jobSet).jobs, "SAMPLES", "0"));
    expect(bytes / count).toBeLessThanOrEqual(250);
  });

  it("fails calls promptly while Redis is down, instead of queueing them", async () => {
    const doomed = await startRedisServer();
    const victim = createRedisStore({ url: doomed.url, ttlSeconds: 60 });
    try {
      await victim.ping();
      await doomed.stop();
      for (const call of [() => victim.ping(), () => victim.read({ ...freshJobSet(), jobId: "j" })]) {
        const outcome = await settledWithin<unknown>(call(), 10_000);
        expect(outcome).toMatchObject({ status: "rejected", reason: { message: expect.stringMatching(/^Redis store at redis:\/\/127\.0\.0\.1:/) } });
      }
    } finally {
      await victim.close();
      await doomed.stop();
    }
  });

  it("rejects a ping when nothing listens at the URL, and never logs the password", async () => {
    const lines: string[] = [];
    const logger = capturingLogger(lines);
    const url = `redis://jobservice:s3cret-pw@127.0.0.1:${await freePort()}`;
    const unreachable = createRedisStore({ url, ttlSeconds: 60, logger });
    try {
      const outcome = await settledWithin(unreachable.ping(), 10_000);
      expect(outcome).toMatchObject({ status: "rejected" });
      expect(lines.join("")).toMatch(/redis store unreachable/);
      expect(lines.join("")).not.toContain("s3cret-pw");
      expect(String((outcome as PromiseRejectedResult).reason)).not.toContain("s3cret-pw");
    } finally {
      await unreachable.close();
    }
  });
});

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A 26-character, ULID-shaped id like Armada's job ids: a fixed time part and distinct random-looking ones. */
function ulidLike(n: number): string {
  // Multiplying by an odd constant modulo 2^80 is a bijection, so ids never repeat.
  let random = (BigInt(n) * 0x9e3779b97f4a7c15n) & ((1n << 80n) - 1n);
  let tail = "";
  for (let i = 0; i < 16; i++, random >>= 5n) tail += CROCKFORD[Number(random & 31n)];
  return `01JD8Z3M5Q${tail}`;
}

/** The mix a busy job set holds: mostly finished jobs, some running, a few failed. */
function realisticRecord(n: number) {
  const submittedAt = 1732300000000 + n * 1000;
  const base = record({
    messageId: `${submittedAt + 5000}:${n % 1000}:0:${n % 7}`,
    submittedAt,
    startedAt: submittedAt + 4321,
    cluster: `cluster-eu-${n % 3}`,
    node: `node-${String(n % 500).padStart(4, "0")}`,
  });
  if (n % 10 === 0) return base;
  if (n % 25 === 1) {
    return {
      ...base,
      state: 3,
      lastEvent: "failed",
      error: "Container main exited with code 1: Traceback (most recent call last)",
      finishedAt: submittedAt + 60_000,
      exitCode: 1,
      cause: "Error",
    };
  }
  return { ...base, state: 4, lastEvent: "succeeded", finishedAt: submittedAt + 60_000, exitCode: 0 };
}

describe("redis store over TLS (rediss://)", () => {
  let tlsServer: RedisServer;
  let caFile: string;

  beforeAll(async () => {
    const certificate = selfSignedCertificate();
    caFile = certificate.certFile;
    tlsServer = await startRedisServer({ tls: certificate });
  });
  afterAll(async () => {
    await tlsServer?.stop();
  });

  it("writes and reads over TLS when the server's certificate is trusted", async () => {
    const script = `import { createRedisStore } from ${JSON.stringify(moduleUrl("src/store/redis.ts"))};
      const store = createRedisStore({ url: ${JSON.stringify(tlsServer.url)}, ttlSeconds: 60 });
      const jobSet = { queue: "q", jobSetId: "s" };
      await store.write(jobSet, { jobs: new Map([["j", ${JSON.stringify(record())}]]), progress: ${JSON.stringify(progress("c"))} }, { expected: undefined, fence: 0 });
      console.log(JSON.stringify(await store.read({ ...jobSet, jobId: "j" })));
      await store.close();`;
    const outcome = await runScript(script, { env: { NODE_EXTRA_CA_CERTS: caFile }, timeoutMs: 15_000 });
    expect(outcome.exit, outcome.stderr).toBe(0);
    expect(JSON.parse(outcome.stdout)).toStrictEqual({ job: record(), progress: progress("c") });
  });

  it("refuses a server whose certificate it cannot verify", async () => {
    const lines: string[] = [];
    const untrusting = createRedisStore({ url: tlsServer.url, ttlSeconds: 60, logger: capturingLogger(lines) });
    try {
      await expect(settledWithin(untrusting.ping(), 10_000)).resolves.toMatchObject({ status: "rejected" });
      expect(lines.join("")).toMatch(/self[- ]signed certificate/);
    } finally {
      await untrusting.close();
    }
  });
});
