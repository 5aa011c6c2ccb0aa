// The subscriber alone in its process, fed by the simulator: catches job sets
// up into a store and holds their subscriptions (ingest, scale) until told to
// release them, or reads the same streams and discards them (the decode ceiling).
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { pino } from "pino";
import type { Histogram } from "prom-client";
import { EventStreamMessageSchema, JobSetRequestSchema } from "../../src/gen/api/event_pb.js";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { createMetricsRegistry, type Registry } from "../../src/observability/metrics.js";
import { openStore } from "../../src/store/open.js";
import type { JobSetKey, JobStore } from "../../src/store/store.js";
import { createArmadaClient } from "../../src/armada/armada-client.js";
import { frameReader } from "../../src/armada/grpc-stream.js";
import { createSubscriber, SUBSCRIBER_DEFAULTS, type Subscriber, type SubscriberOptions } from "../../src/subscriber/index.js";
import { grpcFrame } from "../lib/grpc-frame.js";
import { defaultNumber } from "../../src/config/settings.js";
import { serveCommands } from "../lib/serve-commands.js";
import type { ExpectedJob, ReplicaAckChoice, StoreChoice } from "./protocol.js";

export interface SubscribeRequest {
  readonly store: StoreChoice;
  /** Acknowledge writes only once replicas have them (a Redis store with replicas). */
  readonly replicaAck?: ReplicaAckChoice;
  readonly armadaUrl: string;
  readonly jobSets: readonly JobSetKey[];
  /** Settings that differ from the defaults, e.g. more upstream connections for 10k job sets. */
  readonly settings?: Partial<SubscriberOptions>;
}

export interface SubscribeResult {
  /** From the first call to the last job set's history being in the store. */
  readonly ms: number;
  readonly failures: readonly string[];
  /** The process's memory before the first call and once every job set is caught up, after a full GC. */
  readonly memoryBefore: NodeJS.MemoryUsage;
  readonly memoryAfter: NodeJS.MemoryUsage;
  /** CPU time this process used during the catch-up. */
  readonly cpuMs: number;
}

export interface DecodeResult {
  readonly ms: number;
  readonly events: number;
  readonly cpuMs: number;
}

// The history of a big job set takes longer than the default wait; the bench waits for all of it.
const CATCH_UP_WAIT_MS = 600_000;
const EXPECTED_STATE: Readonly<Record<ExpectedJob["state"], State>> = {
  succeeded: State.SUCCEEDED,
  failed: State.FAILED,
  cancelled: State.CANCELLED,
};

const logger = pino({ level: "silent" });
let held: { subscriber: Subscriber; store: JobStore; metrics: Registry } | undefined;

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function settledMemory(): NodeJS.MemoryUsage {
  const runtime = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  const collect = runtime.gc ?? (() => runtime.Bun?.gc(true));
  collect();
  collect();
  return process.memoryUsage();
}

async function release(): Promise<void> {
  if (!held) return;
  const { subscriber, store } = held;
  held = undefined;
  await subscriber.close();
  await store.close();
}

async function subscribe(request: SubscribeRequest): Promise<SubscribeResult> {
  await release();
  const before = settledMemory();
  const metrics = createMetricsRegistry({ processMetrics: false });
  const store = openStore(request.store, { ttlSeconds: defaultNumber("job-ttl-seconds"), logger, replicaAck: request.replicaAck });
  const subscriber = createSubscriber(
    {
      ...SUBSCRIBER_DEFAULTS,
      catchUpWaitMs: CATCH_UP_WAIT_MS,
      ...request.settings,
      armadaUrl: request.armadaUrl,
      credentials: { kind: "none" },
      replicaId: `bench-${process.pid}`,
    },
    { store, logger, metrics },
  );
  held = { subscriber, store, metrics };
  const call = new AbortController();
  const started = performance.now();
  const cpuBefore = cpuMs();
  const answers = await Promise.all(request.jobSets.map((jobSet) => subscriber.status({ ...jobSet, jobId: "bench-no-such-job" }, call)));
  const ms = performance.now() - started;
  const cpu = cpuMs() - cpuBefore;
  const failures = [...new Set(answers.filter((a) => a.state !== State.JOB_ID_NOT_FOUND).map((a) => `${State[a.state]}: ${a.error}`))];
  const after = settledMemory();
  return { ms, failures, memoryBefore: before, memoryAfter: after, cpuMs: cpu };
}

/** How many of the jobs the held subscriber answers with a state other than their known final one. */
async function verify({ jobs }: { jobs: readonly ExpectedJob[] }): Promise<number> {
  if (!held) throw new Error("verify needs a subscribe first");
  const call = new AbortController();
  let mismatches = 0;
  for (const job of jobs) {
    if ((await held.subscriber.status(job, call)).state !== EXPECTED_STATE[job.state]) mismatches++;
  }
  return mismatches;
}

/** Events written to the store so far, by the held subscriber's own count. */
async function eventsWritten(): Promise<number> {
  const metric = held?.metrics.getSingleMetric("jobservice_store_write_batch_events") as Histogram | undefined;
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.find((v) => v.metricName === "jobservice_store_write_batch_events_sum")?.value ?? 0;
}

let watcher: { base: number; firstWrite?: number; timer: NodeJS.Timeout } | undefined;

/** Starts watching the written-event count, noting when the first write past now happens; resolves with the count now. */
async function watchEvents(): Promise<number> {
  if (watcher) clearInterval(watcher.timer);
  const base = await eventsWritten();
  const current: { base: number; firstWrite?: number; timer: NodeJS.Timeout } = {
    base,
    timer: setInterval(() => {
      void eventsWritten().then((written) => {
        if (current.firstWrite === undefined && written > base) current.firstWrite = performance.now();
      });
    }, 2),
  };
  watcher = current;
  return base;
}

/**
 * Waits until `count` events past the watched base are written; times from the
 * first of them, so the time the simulator spends planning a load is left out.
 */
async function waitForEvents({ count, timeoutMs }: { count: number; timeoutMs: number }): Promise<{ ms: number; written: number }> {
  const current = watcher;
  if (!current) throw new Error("waitForEvents needs watchEvents first");
  const deadline = performance.now() + timeoutMs;
  let written = await eventsWritten();
  while (written < current.base + count && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    written = await eventsWritten();
  }
  clearInterval(current.timer);
  watcher = undefined;
  const ms = current.firstWrite === undefined ? Number.NaN : performance.now() - current.firstWrite;
  return { ms, written: written - current.base };
}

async function decode({ armadaUrl, jobSets }: { armadaUrl: string; jobSets: readonly JobSetKey[] }): Promise<DecodeResult> {
  const client = createArmadaClient({ ...SUBSCRIBER_DEFAULTS, url: armadaUrl, authorization: async () => undefined });
  const signal = new AbortController().signal;
  const started = performance.now();
  const cpuBefore = cpuMs();
  try {
    const counts = await Promise.all(
      jobSets.map(async (jobSet) => {
        let events = 0;
        for await (const messages of client.jobSetEvents({ ...jobSet, fromMessageId: "", watch: false }, signal))
          for (const message of messages) if (message.id) events++;
        return events;
      }),
    );
    return { ms: performance.now() - started, events: counts.reduce((a, b) => a + b, 0), cpuMs: cpuMs() - cpuBefore };
  } finally {
    client.close();
  }
}

/**
 * The floor under any reader: one plain HTTP/2 session, each response's
 * frames cut out and decoded with fromBinary, then dropped.
 */
async function decodeRaw({ armadaUrl, jobSets }: { armadaUrl: string; jobSets: readonly JobSetKey[] }): Promise<DecodeResult> {
  const session = http2.connect(armadaUrl);
  const started = performance.now();
  const cpuBefore = cpuMs();
  try {
    const counts = await Promise.all(
      jobSets.map(async (jobSet) => {
        const body = grpcFrame(toBinary(JobSetRequestSchema, create(JobSetRequestSchema, { id: jobSet.jobSetId, queue: jobSet.queue, watch: false })));
        const stream = session.request({ ":method": "POST", ":path": "/api.Event/GetJobSetEvents", "content-type": "application/grpc+proto", te: "trailers" });
        stream.end(body);
        const frames = frameReader(undefined);
        let events = 0;
        for await (const chunk of stream) {
          frames.push(chunk as Buffer, (payload) => {
            if (fromBinary(EventStreamMessageSchema, payload).id) events++;
          });
        }
        return events;
      }),
    );
    return { ms: performance.now() - started, events: counts.reduce((a, b) => a + b, 0), cpuMs: cpuMs() - cpuBefore };
  } finally {
    session.close();
  }
}

serveCommands(
  { pid: process.pid },
  {
    subscribe,
    verify,
    decode,
    decodeRaw,
    watchEvents,
    waitForEvents,
    release,
    memory: async () => settledMemory(),
  },
  release,
);
