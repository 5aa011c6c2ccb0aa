import { setTimeout as sleep } from "node:timers/promises";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Event } from "../../src/gen/api/event_pb.js";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobKey, JobSetKey } from "../../src/store/store.js";
import { processScript, startChild, type BenchChild } from "../lib/child.js";
import type { BenchContext } from "../lib/context.js";
import { fixed, type Row, type SuiteOutcome, type TargetCheck } from "../lib/report.js";
import { summarizeLatencies, type LatencySummary } from "../lib/stats.js";
import { now, type BulkSummary, type ProbeStep } from "../processes/protocol.js";

const QUEUE = "fresh";
const LIGHT_RATE = 1_000;
const HEAVY_RATE = 5_000;
const BACKGROUND_JOB_SETS = 10;
const EVENTS_PER_JOB_ESTIMATE = 6;
const SAMPLE_TIMEOUT_MS = 5_000;
const TARGET_P99_MS = 50;
const STEPS: readonly { readonly step: ProbeStep; readonly state: State }[] = [
  { step: "submitted", state: State.SUBMITTED },
  { step: "running", state: State.RUNNING },
  { step: "succeeded", state: State.SUCCEEDED },
];

interface RateResult {
  readonly eventsPerSecond: number;
  readonly service: LatencySummary;
  /** The same events seen by a client holding its own watch stream: the transport floor. */
  readonly stream: LatencySummary;
  readonly timedOut: number;
}

/**
 * Time from the simulator appending an event to GetJobStatus answering with
 * the state it leads to, while a background load of the given rate flows
 * through the same subscriber.
 */
export async function freshnessSuite(context: BenchContext): Promise<SuiteOutcome> {
  const { simulator } = context;
  await simulator.call("createQueue", { name: QUEUE });
  const rows: Row[] = [];
  const targets: TargetCheck[] = [];
  const data: RateResult[] = [];
  for (const rate of [LIGHT_RATE, HEAVY_RATE]) {
    const service = await startChild<{ port: number }>(processScript("service"), {
      answer: "subscriber",
      store: { kind: "memory" },
      armadaUrl: simulator.ready.url,
    });
    try {
      const result = await measureRate(context, service, rate);
      data.push(result);
      rows.push({
        measure: `Freshness at ${fixed(rate)} events/s (emit → GetJobStatus shows it)`,
        subject: "service (memory store)",
        baseline: "client's own watch stream receives the event",
        ratio: result.service.p50Ms / result.stream.p50Ms,
        absolute: `p50 ${fixed(result.service.p50Ms, 1)} / ${fixed(result.stream.p50Ms, 1)} ms, p99 ${fixed(result.service.p99Ms, 1)} / ${fixed(result.stream.p99Ms, 1)} ms, max ${fixed(result.service.maxMs, 1)} ms; ${result.service.samples} samples${result.timedOut ? `, ${result.timedOut} timed out` : ""}`,
      });
      if (rate === LIGHT_RATE) {
        targets.push({
          target: `Freshness p99 ≤ ${TARGET_P99_MS} ms at ${fixed(rate)} events/s`,
          measured: `${fixed(result.service.p99Ms, 1)} ms`,
          met: result.timedOut === 0 && result.service.p99Ms <= TARGET_P99_MS,
        });
      }
    } finally {
      await service.stop();
    }
  }
  return {
    name: "freshness",
    data,
    rows,
    targets,
    notes: [
      `Freshness ratio is p50(service) ÷ p50(watch stream), both from the same probe events; the subscriber batches up to ${5} ms before writing (SUBSCRIBER_DEFAULTS.batchMaxDelayMs).`,
    ],
  };
}

async function measureRate(context: BenchContext, service: BenchChild<{ port: number }>, rate: number): Promise<RateResult> {
  const { simulator, scale } = context;
  const jobService = createClient(JobService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${service.ready.port}` }));
  const events = createClient(Event, createGrpcTransport({ baseUrl: simulator.ready.url }));
  const probeSet: JobSetKey = { queue: QUEUE, jobSetId: `probe-${rate}` };
  const prefix = `background-${rate}-`;
  // Enough background events to outlast the probes, which take a few seconds.
  const probeSeconds = Math.max(5, scale.freshnessSamples / 20);
  const jobsPerSet = Math.ceil((rate * probeSeconds * 3) / EVENTS_PER_JOB_ESTIMATE / BACKGROUND_JOB_SETS);
  const backgroundSets = Array.from({ length: BACKGROUND_JOB_SETS }, (_, i): JobSetKey => ({ queue: QUEUE, jobSetId: `${prefix}${i}` }));

  // Subscribe to every job set first: the service follows what it is asked about.
  for (const jobSet of [probeSet, ...backgroundSets]) await jobService.getJobStatus({ ...jobSet, jobId: "bench-subscribe" });

  const arrivals = new Map<string, number>();
  const watching = new AbortController();
  const watch = (async () => {
    try {
      for await (const message of events.getJobSetEvents({ id: probeSet.jobSetId, queue: probeSet.queue, watch: true }, { signal: watching.signal })) {
        arrivals.set(message.id, now());
      }
    } catch {
      // ends when aborted
    }
  })();

  context.log(`freshness: ${fixed(rate)} events/s background, ${scale.freshnessSamples} probes`);
  await simulator.call<BulkSummary>("bulk", { queue: QUEUE, prefix, jobSets: BACKGROUND_JOB_SETS, jobsPerSet, eventsPerSecond: rate, wait: false });
  await sleep(500); // let the background load settle into its rate
  const serviceMs: number[] = [];
  const streamMs: number[] = [];
  let timedOut = 0;
  try {
    for (let probe = 0; serviceMs.length + timedOut < scale.freshnessSamples; probe++) {
      const key: JobKey = { ...probeSet, jobId: `probe-${probe}` };
      for (const { step, state } of STEPS) {
        const emitted = simulator.call<{ emittedAt: number; id: string }>("probe", { key, step });
        const seenAt = await pollUntil(jobService, key, state);
        const { emittedAt, id } = await emitted;
        if (seenAt === undefined) timedOut++;
        else serviceMs.push(seenAt - emittedAt);
        const arrived = arrivals.get(id);
        if (arrived !== undefined) streamMs.push(arrived - emittedAt);
        // A random pause keeps probes from locking onto the batch timer or the load's ticks.
        await sleep(Math.random() * 10);
      }
    }
  } finally {
    await simulator.call("bulkStop", { prefix });
    watching.abort();
    await watch;
  }
  return { eventsPerSecond: rate, service: summarizeLatencies(serviceMs), stream: summarizeLatencies(streamMs), timedOut };
}

/** Asks back to back until the answer is `state`; the wall-clock time it first was, or undefined after the timeout. */
async function pollUntil(client: Client<typeof JobService>, key: JobKey, state: State): Promise<number | undefined> {
  const deadline = performance.now() + SAMPLE_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const answer = await client.getJobStatus(key);
    if (answer.state === state) return now();
  }
  return undefined;
}
