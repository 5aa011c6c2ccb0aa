import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobKey } from "../../src/store/store.js";
import { processScript, startChild } from "../lib/child.js";
import type { BenchContext } from "../lib/context.js";
import { fixed, type Row, type SuiteOutcome, type TargetCheck } from "../lib/report.js";
import { median, pairedRatio, summarizeLatencies } from "../lib/stats.js";
import type { ProbeStep } from "../processes/protocol.js";

const QUEUE = "watches";
const CONNECTIONS = 10;
const MIB = 1024 ** 2;
const TERMINAL_TIMEOUT_MS = 60_000;

interface WatchRound {
  readonly watches: number;
  /** From the simulator appending the terminal event to the first / median / last watcher seeing it. */
  readonly firstMs: number;
  readonly p50Ms: number;
  readonly lastMs: number;
  readonly rssBefore: number;
  readonly rssOpen: number;
  /** V8 heap in use (after a GC) with and without the watches: what they hold, unlike RSS, which keeps freed pages. */
  readonly heapBefore: number;
  readonly heapOpen: number;
  readonly failures: number;
}

/**
 * Many WatchJobStatus streams open in one service process, all on one job:
 * the service's memory with them open, and the time from the job's terminal
 * event in Armada to every watcher having it, against a single watcher.
 */
export async function watchesSuite(context: BenchContext): Promise<SuiteOutcome> {
  const { simulator, scale } = context;
  const many = scale.rounds > 3 ? 10_000 : 1_000;
  await simulator.call("createQueue", { name: QUEUE });
  const service = await startChild<{ port: number }>(
    processScript("api-service"),
    { store: { kind: "redis", url: context.redisUrl }, armadaUrl: simulator.ready.url, maxWatches: 20_000 },
    ["--expose-gc"],
  );
  const load = await startChild<Record<string, never>>(processScript("api-load"), {});
  const url = `http://127.0.0.1:${service.ready.port}`;
  const client = createClient(JobService, createGrpcTransport({ baseUrl: url }));
  const memory = async (): Promise<NodeJS.MemoryUsage> => {
    await service.call("gc");
    return service.call<NodeJS.MemoryUsage>("memory");
  };
  const probe = (key: JobKey, step: ProbeStep) => simulator.call<{ emittedAt: number }>("probe", { key, step });

  const runOnce = async (watches: number, round: number): Promise<WatchRound> => {
    const key = { queue: QUEUE, jobSetId: `w-${watches}-${round}`, jobId: "job" };
    await probe(key, "submitted");
    await probe(key, "running");
    for (let attempt = 0; (await client.getJobStatus(key)).state !== State.RUNNING; attempt++) {
      if (attempt > 100) throw new Error(`job ${key.jobSetId} never showed RUNNING`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const before = await memory();
    const opened = await load.call<{ failures: number; firstFailure: string }>("openWatches", { url, key, count: watches, connections: CONNECTIONS });
    if (opened.failures > 0) throw new Error(`${opened.failures} of ${watches} watches failed to open: ${opened.firstFailure}`);
    const open = await memory();
    const { emittedAt } = await probe(key, "succeeded");
    const ended = await load.call<{ terminalAt: number[]; failures: number; firstFailure: string }>("awaitTerminal", { timeoutMs: TERMINAL_TIMEOUT_MS });
    if (ended.terminalAt.length !== watches) throw new Error(`${ended.terminalAt.length} of ${watches} watches saw SUCCEEDED: ${ended.firstFailure}`);
    const delays = summarizeLatencies(ended.terminalAt.map((at) => at - emittedAt));
    const result = {
      watches,
      firstMs: Math.min(...ended.terminalAt) - emittedAt,
      p50Ms: delays.p50Ms,
      lastMs: delays.maxMs,
      rssBefore: before.rss,
      rssOpen: open.rss,
      heapBefore: before.heapUsed,
      heapOpen: open.heapUsed,
      failures: ended.failures,
    };
    context.log(
      `watches, ${watches} open: event → first ${result.firstMs.toFixed(1)} ms, all ${result.lastMs.toFixed(1)} ms; RSS ${fixed(result.rssBefore / MIB)} → ${fixed(result.rssOpen / MIB)} MiB, heap ${fixed(result.heapBefore / MIB)} → ${fixed(result.heapOpen / MIB)} MiB`,
    );
    return result;
  };

  try {
    const single: WatchRound[] = [];
    const fanOut: WatchRound[] = [];
    for (let round = 0; round < scale.rounds; round++) {
      single.push(await runOnce(1, round));
      fanOut.push(await runOnce(many, round));
    }
    // The same number of connect-node's own server streams, for what a stream costs before our part.
    const healthBefore = (await memory()).heapUsed;
    const health = await load.call<{ failures: number }>("openHealthWatches", { url, count: many, connections: CONNECTIONS });
    if (health.failures > 0) throw new Error(`${health.failures} of ${many} grpc.health.v1 Watch streams failed`);
    const healthPerStream = ((await memory()).heapUsed - healthBefore) / many;
    await load.call("closeHealthWatches");
    context.log(`watches: ${fixed(many)} grpc.health.v1 Watch streams cost ${fixed(healthPerStream / 1024, 1)} KiB each`);

    const last = (runs: readonly WatchRound[]) => runs.map((r) => r.lastMs);
    const rssOpen = median(fanOut.map((r) => r.rssOpen));
    const perWatch = median(fanOut.map((r) => (r.heapOpen - r.heapBefore) / r.watches));
    const rows: Row[] = [
      {
        measure: "Terminal event in Armada → every watcher has it (ms)",
        subject: `${fixed(many)} WatchJobStatus streams on one job`,
        baseline: "1 WatchJobStatus stream",
        ratio: pairedRatio(last(fanOut), last(single)),
        absolute: `${fixed(median(last(fanOut)), 1)} / ${fixed(median(last(single)), 1)} ms (first watcher ${fixed(median(fanOut.map((r) => r.firstMs)), 1)} ms, median ${fixed(median(fanOut.map((r) => r.p50Ms)), 1)} ms)`,
      },
      {
        measure: "Service heap held per open stream (KiB, after GC)",
        subject: `${fixed(many)} WatchJobStatus streams`,
        baseline: `${fixed(many)} grpc.health.v1 Watch streams`,
        ratio: perWatch / healthPerStream,
        absolute: `${fixed(perWatch / 1024, 1)} / ${fixed(healthPerStream / 1024, 1)} KiB per stream; ${fixed(rssOpen / MIB)} MiB RSS with the watches open (${fixed(median(fanOut.map((r) => r.rssBefore)) / MIB)} MiB before)`,
      },
    ];
    const targets: TargetCheck[] = [
      {
        target: "10,000 open WatchJobStatus streams in one process",
        measured: many === 10_000 ? `${fixed(rssOpen / MIB)} MiB RSS, all ${fixed(many)} saw the terminal state` : "not measured (quick run opens 1,000)",
        met: many === 10_000 ? fanOut.every((r) => r.failures === 0) : null,
      },
    ];
    return {
      name: "watches",
      data: { single, fanOut },
      rows,
      targets,
      notes: [
        `Watches: ${fixed(many)} streams over ${CONNECTIONS} HTTP/2 connections from a separate client process (the service allows 2,500 streams per connection, JOBSERVICE_MAX_CONCURRENT_STREAMS, as a deployment serving many watches would), Redis store; the owner replica's own write wakes its watchers (no polling), so the time is Armada → subscriber → store write → one store read → fan-out.`,
      ],
    };
  } finally {
    await load.stop();
    await service.stop();
  }
}
