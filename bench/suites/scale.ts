import { setTimeout as sleep } from "node:timers/promises";
import { processScript, residentMemory, startChild, type Runtime } from "../lib/child.js";
import { connectionsTo } from "../lib/connections.js";
import type { BenchContext } from "../lib/context.js";
import { fixed, type Row, type SuiteOutcome, type TargetCheck } from "../lib/report.js";
import type { SubscribeResult } from "../processes/ingest.js";
import type { BulkSummary } from "../processes/protocol.js";
import { SUBSCRIBER_DEFAULTS } from "../../src/subscriber/index.js";

const QUEUE = "scale";
const TARGET = { subscriptions: 10_000, rssBytes: 300 * 1024 ** 2, connections: 10 };
const MIB = 1024 ** 2;
const LIVE_TIMEOUT_MS = 60_000;
/**
 * How long the process is left with only its lease renewals running before
 * its resident memory is read again, without a forced GC: what a replica
 * holding the subscriptions shows once V8 has had the chance to give back
 * the heap the catch-up grew (its memory reducer waits for a quiet spell).
 */
const SETTLE_MS = 30_000;
/** The shipped build on Node (what the image runs) and on Bun (what the single binary runs), side by side. */
const RUNTIMES: readonly { readonly runtime: Runtime; readonly name: string }[] = [
  { runtime: "node", name: "Node" },
  { runtime: "bun", name: "Bun" },
];

interface ScaleResult {
  readonly runtime: string;
  readonly subscriptions: number;
  readonly maxConnections: number;
  readonly catchUpMs: number;
  readonly memoryBefore: NodeJS.MemoryUsage;
  readonly memoryAfter: NodeJS.MemoryUsage;
  readonly connections: number;
  readonly liveEvents: number;
  readonly liveEventsPerSecond: number;
  /** RSS after SETTLE_MS of idle, and the process's peak RSS (VmHWM) over the whole run, in MiB. */
  readonly settledRssMiB: number;
  readonly peakRssMiB: number;
}

/**
 * Many job sets followed at once by one process: its memory, its upstream
 * connections, and the event rate it still carries with all of them live.
 */
export async function scaleSuite(context: BenchContext): Promise<SuiteOutcome> {
  const { simulator, scale } = context;
  await simulator.call("createQueue", { name: QUEUE });
  const rows: Row[] = [];
  const targets: TargetCheck[] = [];
  const data: ScaleResult[] = [];
  for (const subscriptions of scale.scaleSubscriptions) {
    const prefix = `scale-${subscriptions}-`;
    const history = await simulator.call<BulkSummary>("bulk", { queue: QUEUE, prefix, jobSets: subscriptions, jobsPerSet: 1, wait: true, sample: 100 });
    // One stream per job set: the pool must hold them all (SUBSCRIBER_DEFAULTS.maxStreamsPerConnection each).
    const maxConnections = Math.max(SUBSCRIBER_DEFAULTS.maxConnections, Math.ceil(subscriptions / SUBSCRIBER_DEFAULTS.maxStreamsPerConnection));
    for (const { runtime, name } of RUNTIMES) {
      const ingester = await startChild<{ pid: number }>(processScript("ingest"), {}, ["--expose-gc"], runtime);
      try {
        context.log(`scale: ${fixed(subscriptions)} subscriptions on ${name} (${maxConnections} connections at most)`);
        const subscribed = await ingester.call<SubscribeResult>("subscribe", {
          store: { kind: "memory" },
          armadaUrl: simulator.ready.url,
          jobSets: history.jobSets,
          settings: { maxConnections },
        });
        const mismatches = await ingester.call<number>("verify", { jobs: history.sample });
        if (subscribed.failures.length > 0 || mismatches > 0) throw new Error(`${mismatches} wrong answers; ${subscribed.failures.join("; ")}`);
        const connections = connectionsTo(ingester.pid, simulator.ready.port);
        // Live traffic on every subscription at once: one more job per job set, appended as fast as the simulator can.
        await ingester.call<number>("watchEvents");
        const live = await simulator.call<BulkSummary>("bulk", { queue: QUEUE, prefix, jobSets: subscriptions, jobsPerSet: 1, wait: false });
        const done = await ingester.call<{ ms: number; written: number }>("waitForEvents", { count: live.totalEvents, timeoutMs: LIVE_TIMEOUT_MS });
        const liveEventsPerSecond = (done.written / done.ms) * 1000;
        if (done.written < live.totalEvents * 0.99) context.log(`  only ${done.written} of ${live.totalEvents} live events were written in time`);
        await sleep(SETTLE_MS);
        const settled = residentMemory(ingester.pid);
        const result: ScaleResult = {
          runtime: name,
          subscriptions,
          maxConnections,
          catchUpMs: subscribed.ms,
          memoryBefore: subscribed.memoryBefore,
          memoryAfter: subscribed.memoryAfter,
          connections,
          liveEvents: done.written,
          liveEventsPerSecond,
          settledRssMiB: settled.rssMiB,
          peakRssMiB: settled.peakMiB,
        };
        data.push(result);
        const { memoryBefore: before, memoryAfter: after } = result;
        const perSubscription = (after.rss - before.rss) / subscriptions;
        const heapPerSubscription = (after.heapUsed - before.heapUsed) / subscriptions;
        context.log(
          `  RSS ${fixed(after.rss / MIB)} MiB (+${fixed(perSubscription / 1024, 1)} KiB each, JS heap +${fixed(heapPerSubscription / 1024, 1)} KiB), settled ${fixed(settled.rssMiB)} MiB, peak ${fixed(settled.peakMiB)} MiB; ${connections} connections, ${fixed(liveEventsPerSecond)} live events/s`,
        );
        rows.push({
          measure: `Scale: ${fixed(subscriptions)} concurrent subscriptions`,
          subject: `subscriber (memory store), ${name}`,
          baseline: "same process before subscribing",
          ratio: after.rss / before.rss,
          absolute: `RSS ${fixed(after.rss / MIB)} / ${fixed(before.rss / MIB)} MiB (${fixed(perSubscription / 1024, 1)} KiB per subscription, of which JS heap in use ${fixed(heapPerSubscription / 1024, 1)} KiB); settled ${fixed(settled.rssMiB)} MiB, peak ${fixed(settled.peakMiB)} MiB; ${connections} upstream connections; caught up in ${fixed(result.catchUpMs)} ms; ${fixed(liveEventsPerSecond)} live events/s held across all of them`,
        });
        if (subscriptions === TARGET.subscriptions && runtime === "node") {
          targets.push({
            target: `${fixed(TARGET.subscriptions)} subscriptions in < 300 MiB RSS on ≤ ${TARGET.connections} upstream connections`,
            measured: `${fixed(after.rss / MIB)} MiB RSS after the catch-up (settled ${fixed(settled.rssMiB)} MiB, peak ${fixed(settled.peakMiB)} MiB), ${connections} connections`,
            met: after.rss < TARGET.rssBytes && connections <= TARGET.connections,
          });
        }
      } finally {
        await ingester.stop();
      }
    }
  }
  if (!scale.scaleSubscriptions.includes(TARGET.subscriptions)) {
    targets.push({
      target: `${fixed(TARGET.subscriptions)} subscriptions in < 300 MiB RSS on ≤ ${TARGET.connections} upstream connections`,
      measured: "not run in --quick mode",
      met: null,
    });
  }
  return {
    name: "scale",
    data,
    rows,
    targets,
    notes: [
      "Scale runs the subscriber with the default settings except `maxConnections`, raised to ⌈subscriptions ÷ maxStreamsPerConnection⌉ when the default pool cannot hold one stream per job set.",
      "The subscriber runs as the shipped bundle (esbuild), on Node and on Bun; the target is checked on Node, on the RSS read right after every job set is caught up, after a full GC on Node (`gc()`) and `Bun.gc(true)` on Bun.",
      `Settled RSS is read from /proc ${SETTLE_MS / 1000} s after the live traffic, with only the lease renewals running and no forced GC; peak RSS is the kernel's high-water mark (VmHWM) over the process's life, catch-up included.`,
    ],
  };
}
