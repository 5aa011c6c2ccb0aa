import { Redis } from "ioredis";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { createRedisStore } from "../../src/store/redis.js";
import type { JobRecord, JobStore } from "../../src/store/store.js";
import { startRedisServer, type RedisServer } from "../../test/support/redis-server.js";
import { alternate } from "../lib/alternate.js";
import { processScript, startChild } from "../lib/child.js";
import type { BenchContext } from "../lib/context.js";
import { fixed, type Row, type SuiteOutcome } from "../lib/report.js";
import { median, pairedRatio, percentileOfSorted } from "../lib/stats.js";
import type { SubscribeResult } from "../processes/ingest.js";
import type { BulkSummary } from "../processes/protocol.js";

const QUEUE = "replica-ack";
const ACK = { replicas: 1, timeoutMs: 1_000 };
// A batch as the subscriber writes it during a catch-up (the default JOBSERVICE_BATCH_MAX_EVENTS).
const BATCH_JOBS = 200;
const WRITES_PER_ROUND = { quick: 200, full: 1_000 };

const job: JobRecord = {
  state: State.RUNNING,
  error: "",
  lastEvent: "running",
  messageId: "1732300000000:12:0:3",
  submittedAt: 1732300000000,
  startedAt: 1732300004321,
  cluster: "cluster-eu-1",
  node: "node-0042",
  runAttempts: 1,
};

/**
 * What acknowledging a write only once a replica has it costs (Redis `WAIT 1`):
 * the latency of one batch write, one after another, and the subscriber's
 * ingest rate, each with and without, against a master with one replica on
 * the same loopback (so the replica's round trip is the cheapest it can be).
 */
export async function replicaAckSuite(context: BenchContext): Promise<SuiteOutcome> {
  const { simulator, scale } = context;
  const master = await startRedisServer();
  const replica = await startRedisServer({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
  const ingester = await startChild<{ pid: number }>(processScript("ingest"), {}, ["--expose-gc"], "node");
  const plain = createRedisStore({ url: master.url, ttlSeconds: 600 });
  const acked = createRedisStore({ url: master.url, ttlSeconds: 600, replicaAck: ACK });
  const rows: Row[] = [];
  const notes: string[] = [];
  const data: Record<string, unknown> = {};
  try {
    await replicaOnline(master);
    const writes = scale.rounds === 3 ? WRITES_PER_ROUND.quick : WRITES_PER_ROUND.full;
    context.log(`replica-ack: ${writes} writes of ${BATCH_JOBS} jobs, ${scale.rounds} alternating rounds`);
    let round = 0;
    const latencies = await alternate<number[]>(scale.rounds, [
      { name: "no wait", run: () => writeLatencies(plain, `plain-${round++}`, writes) },
      { name: "wait 1", run: () => writeLatencies(acked, `acked-${round++}`, writes) },
    ]);
    const p50 = (name: string): number[] =>
      (latencies.get(name) ?? []).map((ms) =>
        percentileOfSorted(
          [...ms].sort((a, b) => a - b),
          50,
        ),
      );
    const p99 = (name: string): number[] =>
      (latencies.get(name) ?? []).map((ms) =>
        percentileOfSorted(
          [...ms].sort((a, b) => a - b),
          99,
        ),
      );
    rows.push(
      {
        measure: `one write of ${BATCH_JOBS} jobs, p50 latency`,
        subject: "WAIT 1",
        baseline: "no WAIT",
        ratio: pairedRatio(p50("wait 1"), p50("no wait")),
        absolute: `${fixed(median(p50("wait 1")), 3)} / ${fixed(median(p50("no wait")), 3)} ms`,
      },
      {
        measure: `one write of ${BATCH_JOBS} jobs, p99 latency`,
        subject: "WAIT 1",
        baseline: "no WAIT",
        ratio: pairedRatio(p99("wait 1"), p99("no wait")),
        absolute: `${fixed(median(p99("wait 1")), 3)} / ${fixed(median(p99("no wait")), 3)} ms`,
      },
    );

    const bulk = await simulator.call<BulkSummary>("bulk", {
      queue: QUEUE,
      prefix: "ack-",
      jobSets: scale.ingest.smallSets,
      jobsPerSet: scale.ingest.smallJobs,
      wait: true,
      sample: 0,
    });
    context.log(
      `replica-ack: ingest of ${scale.ingest.smallSets} job sets × ${scale.ingest.smallJobs} jobs (${fixed(bulk.totalEvents)} events), ${scale.rounds} alternating rounds`,
    );
    const ingest = async (replicaAck: typeof ACK | undefined): Promise<number> => {
      const admin = new Redis(master.url);
      await admin.flushall().finally(() => admin.disconnect());
      const result = await ingester.call<SubscribeResult>("subscribe", {
        store: { kind: "redis", url: master.url },
        ...(replicaAck && { replicaAck }),
        armadaUrl: simulator.ready.url,
        jobSets: bulk.jobSets,
      });
      await ingester.call("release");
      if (result.failures.length > 0) throw new Error(`ingest failed: ${result.failures.join("; ")}`);
      return (bulk.totalEvents / result.ms) * 1000;
    };
    const rates = await alternate<number>(scale.rounds, [
      { name: "no wait", run: () => ingest(undefined) },
      { name: "wait 1", run: () => ingest(ACK) },
    ]);
    const without = rates.get("no wait") ?? [];
    const withAck = rates.get("wait 1") ?? [];
    rows.push({
      measure: `ingest, ${scale.ingest.smallSets} job sets × ${scale.ingest.smallJobs} jobs`,
      subject: "WAIT 1",
      baseline: "no WAIT",
      ratio: pairedRatio(withAck, without),
      absolute: `${fixed(median(withAck))} / ${fixed(median(without))} events/s`,
    });
    notes.push(
      "Master and replica are two redis-servers on the same loopback: the replica's round trip is as short as it gets. Across machines or zones, add that network's round trip to every write.",
    );
    const summarized = (name: string) => p50(name).map((p50Ms, round) => ({ p50Ms, p99Ms: p99(name)[round], writes }));
    Object.assign(data, { writes: { "no wait": summarized("no wait"), "wait 1": summarized("wait 1") }, ingestEventsPerSecond: Object.fromEntries(rates) });
  } finally {
    await Promise.all([plain.close(), acked.close()]);
    await ingester.stop();
    await replica.stop();
    await master.stop();
  }
  return { name: "replica-ack", data, rows, targets: [], notes };
}

/** Milliseconds per write, `count` writes of one batch each to one job set, one after another. */
async function writeLatencies(store: JobStore, jobSetId: string, count: number): Promise<number[]> {
  const jobSet = { queue: QUEUE, jobSetId };
  const jobs = new Map(Array.from({ length: BATCH_JOBS }, (_, i) => [`job-${i}`, job] as const));
  const times: number[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < count; i++) {
    const next = String(i);
    const started = performance.now();
    await store.write(jobSet, { jobs, progress: { cursor: next, caughtUp: true, error: "", updatedAt: Date.now() } }, { expected: cursor, fence: 1 });
    times.push(performance.now() - started);
    cursor = next;
  }
  return times;
}

async function replicaOnline(master: RedisServer): Promise<void> {
  const admin = new Redis(master.url);
  try {
    const deadline = Date.now() + 10_000;
    while (!/slave0:.*state=online/.test(await admin.info("replication"))) {
      if (Date.now() > deadline) throw new Error("the replica did not come online");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    admin.disconnect();
  }
}
