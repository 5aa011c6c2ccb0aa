import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { jobSetKeys, RESERVED_FIELDS } from "../../src/store/keys.js";
import { createRedisClusterStore } from "../../src/store/redis-cluster.js";
import { createRedisStore } from "../../src/store/redis.js";
import type { JobSetKey, JobStore } from "../../src/store/store.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { record } from "./contract.js";

/** Long enough for a replica on a loaded machine; the refusal below uses a store of its own with a short one. */
const ACK = { replicas: 1, timeoutMs: 10_000 };
const SHORT_ACK = { replicas: 1, timeoutMs: 300 };
let count = 0;
const freshJobSet = (): JobSetKey => ({ queue: "ack", jobSetId: `set-${process.pid}-${count++}` });
const update = (cursor: string) => ({
  jobs: new Map([["j", record({ state: State.RUNNING })]]),
  progress: { cursor, caughtUp: true, error: "", updatedAt: 1 },
});

/** The cursor a server holds for the job set, asked of that server alone (no redirection, no replica reads forwarded). */
async function cursorOn(port: number, jobSet: JobSetKey): Promise<string | null> {
  const client = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1 });
  try {
    await client.call("READONLY").catch(() => undefined);
    return await client.hget(jobSetKeys(jobSet).jobs, RESERVED_FIELDS.cursor);
  } finally {
    client.disconnect();
  }
}

describe("a Redis store that acknowledges a write only once a replica has it", () => {
  let master: RedisServer;
  let replica: RedisServer;
  let store: JobStore;
  let impatient: JobStore;
  beforeAll(async () => {
    master = await startRedisServer();
    replica = await startRedisServer({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
    const admin = new Redis(master.url);
    while (!/slave0:.*state=online/.test(await admin.info("replication"))) await new Promise((resolve) => setTimeout(resolve, 50));
    admin.disconnect();
    store = createRedisStore({ url: master.url, ttlSeconds: 600, replicaAck: ACK });
    impatient = createRedisStore({ url: master.url, ttlSeconds: 600, replicaAck: SHORT_ACK });
  });
  afterAll(async () => {
    await store?.close();
    await impatient?.close();
    await replica?.stop();
    await master?.stop();
  });

  it("answers a write once the replica holds it", async () => {
    const jobSet = freshJobSet();
    await store.write(jobSet, update("c1"), { expected: undefined, fence: 1 });
    expect(await cursorOn(replica.port, jobSet)).toBe("c1");
  });

  it("fails a write no replica confirms within the timeout, while reads go on answering", async () => {
    const jobSet = freshJobSet();
    await store.write(jobSet, update("c1"), { expected: undefined, fence: 1 });
    replica.pause();
    try {
      const writing = impatient.write(jobSet, update("c2"), { expected: "c1", fence: 1 });
      // Reads have a connection of their own: they do not queue behind the write's WAIT.
      await expect(impatient.read({ ...jobSet, jobId: "j" })).resolves.toMatchObject({ job: { state: State.RUNNING } });
      await expect(writing).rejects.toThrow(/the write was not confirmed by 1 replica\(s\) within 300 ms \(0 did\)/);
    } finally {
      replica.resume();
    }
    // The master applied it all the same: a failed write's effect is unknown, and the store is read again.
    await expect(store.read({ ...jobSet, jobId: "j" })).resolves.toMatchObject({ progress: { cursor: "c2" } });
  });
});

describe("a Redis Cluster store that acknowledges a write only once a replica has it", () => {
  let cluster: RedisCluster;
  let store: JobStore;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    store = createRedisClusterStore({ url: cluster.url, ttlSeconds: 600, replicaAck: ACK });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await cluster?.stop();
  });

  it("answers a write once the replica of the job set's master holds it", async () => {
    for (let i = 0; i < 6; i++) {
      const jobSet = freshJobSet();
      await store.write(jobSet, update("c1"), { expected: undefined, fence: 1 });
      const master = await cluster.masterOf(jobSetKeys(jobSet).jobs);
      const admin = new Redis({ host: "127.0.0.1", port: master });
      const info = await admin.info("replication").finally(() => admin.disconnect());
      const replicaPort = Number(/slave0:ip=[^,]+,port=(\d+)/.exec(info)?.[1]);
      expect(await cursorOn(replicaPort, jobSet)).toBe("c1");
    }
  });
});
