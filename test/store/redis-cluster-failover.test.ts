import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareMessageIds, startSimulator, type BulkJob, type BulkLoad, type Simulator, type TerminalState } from "../../src/simulator/index.js";
import { jobSetKeys } from "../../src/store/keys.js";
import { createRedisClusterStore } from "../../src/store/redis-cluster.js";
import type { JobKey, JobSetKey, JobStore } from "../../src/store/store.js";
import { jobEventOf } from "../../src/armada/decode-event.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";
import { http1Request } from "../support/http.js";
import { startTestService, type TestService } from "../support/service.js";
import { eventually, startSubscriber, testOptions, type TestSubscriber } from "../subscriber/harness.js";

const QUEUE = "bulk";
const JOBS = 1_500;
/** The load takes about this long to append, so the master dies while events still arrive. */
const LOAD_SECONDS = 8;

const TERMINAL_ANSWER: Readonly<Record<TerminalState, string>> = { succeeded: "SUCCEEDED", failed: "FAILED", cancelled: "CANCELLED" };
const FINAL_ANSWERS = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "DUPLICATE_FOUND"]);

let cluster: RedisCluster;
let sim: Simulator;
let store: JobStore;
let subscriber: TestSubscriber;
let service: TestService;

beforeAll(async () => {
  [cluster, sim] = await Promise.all([startRedisCluster({ nodeTimeoutMs: 1_000 }), startSimulator({ queues: [QUEUE], seed: 10 })]);
  store = createRedisClusterStore({ url: cluster.url, ttlSeconds: 600 });
  subscriber = startSubscriber(store, testOptions(sim.url, { leaseTtlMs: 5_000, catchUpWaitMs: 10_000 }));
  service = await startTestService({ store, status: subscriber.subscriber });
}, 60_000);
afterAll(async () => {
  await service?.stop();
  await subscriber?.close();
  await sim?.close();
  await cluster?.stop();
});

/** GetJobStatus as Airflow sends it: Connect JSON over HTTP/1.1. A missing state is SUBMITTED. */
async function answer(job: JobKey): Promise<string> {
  const res = await http1Request(`${service.url}/jobservice.JobService/GetJobStatus`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ queue: job.queue, jobSetId: job.jobSetId, jobId: job.jobId }),
  });
  if (res.status !== 200) return `rpc error ${res.status}`;
  return (JSON.parse(res.body) as { state?: string }).state ?? "SUBMITTED";
}

/** Where each job's first event sits in the simulator's log: the job exists in Armada from that message on. */
function firstEvents(jobSetId: string): Map<string, string> {
  const first = new Map<string, string>();
  for (const m of sim.events(QUEUE, jobSetId)) {
    const id = jobEventOf(m.message)?.jobId;
    if (id !== undefined && !first.has(id)) first.set(id, m.id);
  }
  return first;
}

/**
 * Polls jobs Armada already has, as Airflow would, until stopped. An answer
 * is wrong when it is a final state other than the truth, or "not found" for
 * a job whose first event the store's cursor already covers: the service
 * claims to have read past the job, so absence is a lie, not a lag.
 */
function startPoller(load: BulkLoad, jobSet: JobSetKey) {
  const seen = new Map<string, number>();
  const wrong: string[] = [];
  let stopped = false;
  let n = 0;
  const running = (async () => {
    while (!stopped) {
      const first = firstEvents(jobSet.jobSetId);
      for (let i = 0; i < 20 && !stopped; i++) {
        const job = load.jobs[(n++ * 7919) % load.jobs.length];
        const appearedAt = job && first.get(job.jobId);
        if (!job || !appearedAt) continue;
        const cursor = await store.readProgress(jobSet).then(
          (p) => p?.cursor ?? "",
          () => undefined,
        );
        const got = await answer(job).catch((error: Error) => `transport error ${error.message}`);
        seen.set(got, (seen.get(got) ?? 0) + 1);
        const lies = got === "JOB_ID_NOT_FOUND" && cursor !== undefined && cursor !== "" && compareMessageIds(appearedAt, cursor) <= 0;
        if (lies || (FINAL_ANSWERS.has(got) && got !== TERMINAL_ANSWER[job.outcome.state]))
          wrong.push(`${job.jobId}: ${got}, truth ${job.outcome.state} (first event ${appearedAt}, stored cursor ${cursor})`);
      }
    }
  })();
  return {
    seen,
    wrong,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

describe("redis cluster store under a master failover", () => {
  it("loses nothing and answers nothing wrong when the master of the job set's slot dies mid-ingest", async () => {
    const jobSetId = "failover-0";
    // Sized from the planner's own event count, so the load lasts LOAD_SECONDS whatever the lifecycle mix.
    const sizing = sim.bulkLoad({ queue: QUEUE, jobSets: 1, jobsPerSet: JOBS, eventsPerSecond: 1e-9, jobSetPrefix: "sizing-" });
    sizing.stop();
    const load = sim.bulkLoad({ queue: QUEUE, jobSets: 1, jobsPerSet: JOBS, eventsPerSecond: sizing.totalEvents / LOAD_SECONDS, jobSetPrefix: "failover-" });
    const first = load.jobs[0] as BulkJob;
    expect(first.jobSetId).toBe(jobSetId);

    // The first call starts following the job set.
    await eventually(
      () => answer(first),
      (got) => got !== "JOB_ID_NOT_FOUND" && !got.startsWith("rpc"),
      10_000,
    );
    const jobSet = { queue: QUEUE, jobSetId };
    const poller = startPoller(load, jobSet);
    const master = await cluster.masterOf(jobSetKeys(jobSet).jobs);

    // Kill the slot's master once part of the load is in the store and more is still to come.
    await eventually(
      () => load.emitted() / load.totalEvents,
      (share) => share >= 0.3,
      10_000,
    );
    const cursorBefore = (await store.readProgress(jobSet))?.cursor ?? "";
    expect(cursorBefore).not.toBe("");
    const node = cluster.nodes.find((n) => n.port === master);
    await node?.server.crash();
    const emittedAtCrash = load.emitted();
    expect(emittedAtCrash).toBeLessThan(load.totalEvents);

    await cluster.waitForFailover(master, 20_000);
    await load.done;
    // Recovery: every job reaches its true final state through the service.
    const pending = async (): Promise<string[]> => {
      const off: string[] = [];
      for (let i = 0; i < load.jobs.length; i += 50) {
        const slice = load.jobs.slice(i, i + 50);
        const answers = await Promise.all(slice.map((job) => answer(job)));
        slice.forEach((job, k) => {
          if (answers[k] !== TERMINAL_ANSWER[job.outcome.state]) off.push(`${job.jobId}: ${answers[k]}, truth ${job.outcome.state}`);
        });
      }
      return off;
    };
    const mismatches = await eventually(pending, (off) => off.length === 0, 30_000, 500).catch((error: Error) => [error.message]);
    await poller.stop();

    // The fault was real: the job set's slot moved to another node, and ingest went on there after the crash.
    const masterAfter = await cluster.masterOf(jobSetKeys(jobSet).jobs);
    const cursorAfter = (await store.readProgress(jobSet))?.cursor ?? "";
    console.log(
      `cluster failover: ${load.jobs.length} jobs, ${load.totalEvents} events (${emittedAtCrash} before the crash), ` +
        `${mismatches.length} mismatches, ${poller.wrong.length} wrong answers; answers seen: ${JSON.stringify(Object.fromEntries(poller.seen))}`,
    );
    expect(mismatches).toEqual([]);
    expect(poller.wrong).toEqual([]);
    expect(masterAfter).not.toBe(master);
    expect(compareMessageIds(cursorAfter, cursorBefore)).toBeGreaterThan(0);
    expect([...poller.seen.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
  }, 90_000);
});
