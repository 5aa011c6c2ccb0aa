import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobSetKeys } from "../../src/store/keys.js";
import { openStore } from "../../src/store/open.js";
import { createRedisClusterStore } from "../../src/store/redis-cluster.js";
import { createLogger } from "../../src/observability/logger.js";
import type { JobStore } from "../../src/store/store.js";
import { freePort } from "../support/free-port.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";
import { CONTRACT_TTL_SECONDS, describeStoreContract, freshJobSet, progress, record } from "./contract.js";
import { subjectOnRedis } from "./redis-backends.js";

let cluster: RedisCluster;
let admin: Cluster;

beforeAll(async () => {
  // With a password, so the contract also proves that the URL's user info reaches every node.
  cluster = await startRedisCluster({ password: "cluster-pw/with:odd@chars" });
  admin = new Cluster(
    cluster.nodes.map((n) => ({ host: "127.0.0.1", port: n.port })),
    { redisOptions: { password: cluster.password } },
  );
}, 60_000);
afterAll(async () => {
  admin?.disconnect();
  await cluster?.stop();
});

describeStoreContract("redis cluster", async ({ ttlSeconds }) => subjectOnRedis(() => createRedisClusterStore({ url: cluster.url, ttlSeconds }), admin));

// Ids that could move a key out of its job set's hash tag if escaping failed.
const AWKWARD_IDS = ["plain", "a:b", "{tag}", "}{", "{", "}", "%7B", "é😀", "\uD800", "x".repeat(10_000)];

describe("redis cluster store", () => {
  let store: JobStore;
  beforeAll(() => {
    store = createRedisClusterStore({ url: cluster.url, ttlSeconds: CONTRACT_TTL_SECONDS });
  });
  afterAll(async () => {
    await store?.close();
  });

  it("keeps all of a job set's keys in one slot, whatever its ids hold", async () => {
    for (const queue of AWKWARD_IDS) {
      for (const jobSetId of AWKWARD_IDS) {
        const keys = jobSetKeys({ queue, jobSetId });
        const slots = new Set(await Promise.all([keys.jobs, keys.lease].map((key) => admin.call("CLUSTER", "KEYSLOT", key))));
        expect(slots.size, `${queue} / ${jobSetId}`).toBe(1);
      }
    }
  });

  it("spreads job sets over every master", async () => {
    const masters = new Set<number>();
    for (let n = 0; n < 60 && masters.size < 3; n++) masters.add(await cluster.masterOf(jobSetKeys({ queue: "q", jobSetId: `set-${n}` }).jobs));
    expect(masters.size).toBe(3);
  });

  it("runs every script on a job set served by each master", async () => {
    for (let n = 0; n < 12; n++) {
      const jobSet = { queue: "spread", jobSetId: `set-${n}-${Date.now()}` };
      await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c") }, { expected: undefined, fence: 0 });
      await expect(store.read({ ...jobSet, jobId: "j" })).resolves.toStrictEqual({ job: record(), progress: progress("c") });
      await expect(store.readJobs(jobSet, ["j", "k"])).resolves.toStrictEqual(new Map([["j", record()]]));
      await expect(store.lease(jobSet, "a", 5_000)).resolves.toMatchObject({ stored: true });
      await store.release(jobSet, "a");
    }
  });

  it("is what openStore gives for a redis-cluster:// URL", async () => {
    const opened = openStore({ kind: "redis-cluster", url: cluster.url }, { ttlSeconds: 60, logger: createLogger("silent") });
    try {
      const jobSet = freshJobSet();
      await opened.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c") }, { expected: undefined, fence: 0 });
      expect(await admin.exists(jobSetKeys(jobSet).jobs)).toBe(1);
    } finally {
      await opened.close();
    }
  });

  it("fails promptly with the server's reason on a wrong password, naming the nodes but never the password", async () => {
    await expect(store.ping()).resolves.toBeUndefined();
    const url = `redis-cluster://:not-the-pw@${cluster.url.slice(cluster.url.lastIndexOf("@") + 1)}`;
    const wrong = createRedisClusterStore({ url, ttlSeconds: 60 });
    try {
      const outcome = await Promise.race([Promise.allSettled([wrong.ping()]), new Promise((resolve) => setTimeout(() => resolve(["hung"]), 5_000))]);
      expect((outcome as unknown[])[0]).toMatchObject({
        status: "rejected",
        reason: { message: expect.stringMatching(/^Redis Cluster store at redis-cluster:\/\/127\.0\.0\.1:\d+,.*authentication refused/) },
      });
      expect(String(((outcome as unknown[])[0] as PromiseRejectedResult).reason)).not.toContain("not-the-pw");
    } finally {
      await wrong.close();
    }
  });

  it("names why no node answers in our words, fast, and not a client library's option names", async () => {
    const port = await freePort();
    const down = createRedisClusterStore({ url: `redis-cluster://127.0.0.1:${port}`, ttlSeconds: 60 });
    try {
      const outcome = await Promise.race([Promise.allSettled([down.ping()]), new Promise((resolve) => setTimeout(() => resolve(["hung"]), 10_000))]);
      const reason = String(((outcome as unknown[])[0] as PromiseRejectedResult).reason);
      expect(reason).toMatch(
        new RegExp(`^Error: Redis Cluster store at redis-cluster://127\\.0\\.0\\.1:${port}: .*connection refused at 127\\.0\\.0\\.1:${port}`),
      );
      expect(reason).not.toMatch(/slots cache|maxRetriesPerRequest|ECONNREFUSED/);
    } finally {
      await down.close();
    }
  });
});
