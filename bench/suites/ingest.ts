// Over 300 lines: one suite, its contenders, loads and target checks, as the other suites are one file each.
import { alternate } from "../lib/alternate.js";
import { processScript, startChild } from "../lib/child.js";
import type { BenchContext } from "../lib/context.js";
import { redisAdmin, type CommandCounts } from "../lib/redis-admin.js";
import { fixed, percent, type Row, type SuiteOutcome, type TargetCheck } from "../lib/report.js";
import { runTool } from "../lib/run-tool.js";
import { median, pairedRatio } from "../lib/stats.js";
import type { DecodeResult, SubscribeResult } from "../processes/ingest.js";
import type { BulkSummary } from "../processes/protocol.js";
import type { ReplayReady } from "../processes/replay.js";

const QUEUE = "ingest";
const VERIFY_JOBS = 100;
// The Redis ceiling: one pipelined HSET per event, with a value the size of a stored job record.
const REDIS_BENCHMARK_PIPELINE = 64;
const REDIS_BENCHMARK_VALUE_BYTES = 120;
const REDIS_BENCHMARK_REQUESTS = 200_000;
// Ingest targets hold against the replay upstream, which is never the bottleneck.
const TARGETS = { memory: 100_000, redis: 50_000, ofRawDecode: 0.8, roundTripsPerEvent: 0.1, bytesPerJob: 250 };

/** Where the subscriber reads events from, and that process's CPU time so far. */
interface Upstream {
  readonly url: string;
  cpu(): Promise<number>;
}

/** One catch-up run; busy = CPU time ÷ wall time of a process (1 = one core saturated). */
interface IngestRun {
  readonly eventsPerSecond: number;
  readonly simulatorBusy?: number;
  readonly readerBusy?: number;
  readonly counts?: CommandCounts;
  readonly bytesPerJob?: number;
}

/**
 * Events per second through the subscriber into each store, from two upstreams:
 * the simulator (a connect-node server, as a real Armada is a gRPC server) and a
 * replay of the same bytes that is never the bottleneck; against the decode and
 * Redis ceilings.
 */
export async function ingestSuite(context: BenchContext): Promise<SuiteOutcome> {
  const { simulator, scale } = context;
  // The shipped build (the bundle) on Node, and the same bundle on Bun for the replay runs, side by side.
  const ingester = await startChild<{ pid: number }>(processScript("ingest"), {}, ["--expose-gc"], "node");
  const bunIngester = await startChild<{ pid: number }>(processScript("ingest"), {}, [], "bun");
  const replay = await startChild<ReplayReady>(processScript("replay"), {});
  const admin = redisAdmin(context.redisUrl);
  const fromSimulator: Upstream = { url: simulator.ready.url, cpu: () => simulator.call<number>("cpu") };
  const fromReplay: Upstream = { url: replay.ready.url, cpu: () => replay.call<number>("cpu") };
  const scenarios = [
    { name: `1 job set × ${fixed(scale.ingest.bigJobs)} jobs`, prefix: "ingest-big-", jobSets: 1, jobsPerSet: scale.ingest.bigJobs },
    {
      name: `${fixed(scale.ingest.smallSets)} job sets × ${scale.ingest.smallJobs} jobs`,
      prefix: "ingest-small-",
      jobSets: scale.ingest.smallSets,
      jobsPerSet: scale.ingest.smallJobs,
    },
  ];
  const rows: Row[] = [];
  const targets: TargetCheck[] = [];
  const notes: string[] = [];
  const data: Record<string, unknown> = {};
  const worst = { memory: Infinity, redis: Infinity, ofRawDecode: Infinity, roundTrips: 0, bytes: 0 };
  try {
    for (const scenario of scenarios) {
      const bulk = await simulator.call<BulkSummary>("bulk", {
        queue: QUEUE,
        prefix: scenario.prefix,
        jobSets: scenario.jobSets,
        jobsPerSet: scenario.jobsPerSet,
        wait: true,
        sample: VERIFY_JOBS,
      });
      const jobs = scenario.jobSets * scenario.jobsPerSet;
      // The store's cost is read between the catch-up and the checks, so the checks' reads are not counted.
      await replay.call("forget");
      await replay.call("record", { armadaUrl: simulator.ready.url, jobSets: bulk.jobSets });
      const subscribe = async (
        store: "memory" | "redis",
        upstream: Upstream,
        afterCatchUp: () => Promise<void> = async () => {},
        reader = ingester,
      ): Promise<IngestRun> => {
        const run = await busyRun(upstream, async () => {
          const result = await reader.call<SubscribeResult>("subscribe", {
            store: store === "memory" ? { kind: "memory" } : { kind: "redis", url: context.redisUrl },
            armadaUrl: upstream.url,
            jobSets: bulk.jobSets,
          });
          if (result.failures.length > 0) throw new Error(`ingest into ${store} failed: ${result.failures.join("; ")}`);
          return { events: bulk.totalEvents, ms: result.ms, cpuMs: result.cpuMs };
        });
        await afterCatchUp();
        const mismatches = await reader.call<number>("verify", { jobs: bulk.sample });
        await reader.call("release");
        if (mismatches > 0) throw new Error(`ingest into ${store}: ${mismatches} of ${bulk.sample.length} checked jobs in the wrong state`);
        return run;
      };
      const busyRun = async (upstream: Upstream, run: () => Promise<{ events: number; ms: number; cpuMs: number }>): Promise<IngestRun> => {
        const simulatorBefore = await upstream.cpu();
        const result = await run();
        const simulatorAfter = await upstream.cpu();
        return {
          eventsPerSecond: (result.events / result.ms) * 1000,
          simulatorBusy: (simulatorAfter - simulatorBefore) / result.ms,
          readerBusy: result.cpuMs / result.ms,
        };
      };
      context.log(`ingest: ${scenario.name} (${fixed(bulk.totalEvents)} events), ${scale.rounds} alternating rounds`);
      const results = await alternate<IngestRun>(
        scale.rounds,
        [
          {
            name: "decode",
            run: () =>
              busyRun(fromSimulator, async () => {
                const decoded = await ingester.call<DecodeResult>("decode", { armadaUrl: simulator.ready.url, jobSets: bulk.jobSets });
                if (decoded.events !== bulk.totalEvents) throw new Error(`decoded ${decoded.events} events, expected ${bulk.totalEvents}`);
                return decoded;
              }),
          },
          { name: "memory", run: () => subscribe("memory", fromSimulator) },
          {
            name: "replay raw decode",
            run: () =>
              busyRun(fromReplay, async () => {
                const decoded = await ingester.call<DecodeResult>("decodeRaw", { armadaUrl: replay.ready.url, jobSets: bulk.jobSets });
                if (decoded.events !== bulk.totalEvents) throw new Error(`raw-decoded ${decoded.events} events, expected ${bulk.totalEvents}`);
                return decoded;
              }),
          },
          { name: "replay memory", run: () => subscribe("memory", fromReplay) },
          {
            name: "replay redis",
            run: async () => {
              await admin.reset();
              return subscribe("redis", fromReplay);
            },
          },
          { name: "replay memory, Bun", run: () => subscribe("memory", fromReplay, undefined, bunIngester) },
          {
            name: "replay redis, Bun",
            run: async () => {
              await admin.reset();
              return subscribe("redis", fromReplay, undefined, bunIngester);
            },
          },
          { name: "redis-benchmark", run: async () => ({ eventsPerSecond: await redisBenchmark(context.redisUrl) }) },
          {
            name: "redis",
            run: async () => {
              await admin.reset();
              let cost: { counts: CommandCounts; bytesPerJob: number } | undefined;
              const run = await subscribe("redis", fromSimulator, async () => {
                cost = { counts: await admin.commandCounts(), bytesPerJob: (await admin.memoryUsage(bulk.jobSets)) / jobs };
              });
              return { ...run, ...cost };
            },
          },
        ],
        (name, r) =>
          context.log(
            `  ${name}: ${fixed(r.eventsPerSecond)} events/s${r.simulatorBusy === undefined ? "" : ` (simulator ${percent(r.simulatorBusy)} of a core, reader ${percent(r.readerBusy ?? NaN)})`}`,
          ),
      );
      const rate = (name: string): number[] => (results.get(name) ?? []).map((r) => r.eventsPerSecond);
      const busy = (name: string, side: "simulatorBusy" | "readerBusy"): string => percent(median((results.get(name) ?? []).map((r) => r[side] ?? NaN)));
      const decode = rate("decode");
      const memory = rate("memory");
      const ceiling = rate("redis-benchmark");
      const redisRuns = results.get("redis") ?? [];
      const redis = rate("redis");
      const commandsPerEvent = median(redisRuns.map((r) => (r.counts?.commands ?? NaN) / bulk.totalEvents));
      const roundTripsPerEvent = median(redisRuns.map((r) => (r.counts?.roundTrips ?? NaN) / bulk.totalEvents));
      const bytesPerJob = median(redisRuns.map((r) => r.bytesPerJob ?? NaN));
      notes.push(
        `CPU during ${scenario.name} (median share of one core, all threads: above 100 % means GC and other helper threads ran in parallel): decode runs — simulator ${busy("decode", "simulatorBusy")}, decoder ${busy("decode", "readerBusy")}; memory runs — simulator ${busy("memory", "simulatorBusy")}, subscriber ${busy("memory", "readerBusy")}; redis runs — simulator ${busy("redis", "simulatorBusy")}, subscriber ${busy("redis", "readerBusy")}.`,
      );
      data[scenario.name] = { events: bulk.totalEvents, jobs, decode, memory, redisBenchmark: ceiling, redis: redisRuns };
      rows.push(
        {
          measure: `Ingest, ${scenario.name}`,
          subject: "subscriber → memory store",
          baseline: "same streams decoded and discarded",
          ratio: pairedRatio(memory, decode),
          absolute: `${fixed(median(memory))} / ${fixed(median(decode))} events/s`,
        },
        {
          measure: `Ingest, ${scenario.name}`,
          subject: "subscriber → redis store",
          baseline: "same streams decoded and discarded",
          ratio: pairedRatio(redis, decode),
          absolute: `${fixed(median(redis))} / ${fixed(median(decode))} events/s`,
        },
        {
          measure: `Ingest, ${scenario.name}`,
          subject: "subscriber → redis store",
          baseline: `redis-benchmark HSET -P ${REDIS_BENCHMARK_PIPELINE}`,
          ratio: pairedRatio(redis, ceiling),
          absolute: `${fixed(median(redis))} / ${fixed(median(ceiling))} events (HSETs)/s`,
        },
        {
          measure: `Redis cost, ${scenario.name}`,
          subject: "commands and round trips per event; bytes per job",
          baseline: "—",
          ratio: null,
          absolute: `${fixed(commandsPerEvent, 3)} commands/event, ${fixed(roundTripsPerEvent, 4)} round trips/event, ${fixed(bytesPerJob)} bytes/job (MEMORY USAGE)`,
        },
      );
      const rawDecode = rate("replay raw decode");
      const replayMemory = rate("replay memory");
      const replayRedis = rate("replay redis");
      const bunMemory = rate("replay memory, Bun");
      const bunRedis = rate("replay redis, Bun");
      rows.push(
        {
          measure: `Ingest from the replay, ${scenario.name}`,
          subject: "subscriber → memory store",
          baseline: "same bytes, raw HTTP/2 reader decoding and discarding",
          ratio: pairedRatio(replayMemory, rawDecode),
          absolute: `${fixed(median(replayMemory))} / ${fixed(median(rawDecode))} events/s`,
        },
        {
          measure: `Ingest from the replay, ${scenario.name}`,
          subject: "subscriber → redis store",
          baseline: "same bytes, raw HTTP/2 reader decoding and discarding",
          ratio: pairedRatio(replayRedis, rawDecode),
          absolute: `${fixed(median(replayRedis))} / ${fixed(median(rawDecode))} events/s`,
        },
        {
          measure: `Ingest from the replay, ${scenario.name}, Bun`,
          subject: "subscriber on Bun → memory store",
          baseline: "the same on Node",
          ratio: pairedRatio(bunMemory, replayMemory),
          absolute: `${fixed(median(bunMemory))} / ${fixed(median(replayMemory))} events/s`,
        },
        {
          measure: `Ingest from the replay, ${scenario.name}, Bun`,
          subject: "subscriber on Bun → redis store",
          baseline: "the same on Node",
          ratio: pairedRatio(bunRedis, replayRedis),
          absolute: `${fixed(median(bunRedis))} / ${fixed(median(replayRedis))} events/s`,
        },
      );
      notes.push(
        `CPU during ${scenario.name} from the replay (median share of one core): raw decode — replay ${busy("replay raw decode", "simulatorBusy")}, reader ${busy("replay raw decode", "readerBusy")}; memory — replay ${busy("replay memory", "simulatorBusy")}, subscriber ${busy("replay memory", "readerBusy")}; redis — replay ${busy("replay redis", "simulatorBusy")}, subscriber ${busy("replay redis", "readerBusy")}.`,
      );
      data[`${scenario.name} from the replay`] = { rawDecode, memory: replayMemory, redis: replayRedis, bunMemory, bunRedis };
      worst.ofRawDecode = Math.min(worst.ofRawDecode, median(replayMemory) / median(rawDecode));
      notes.push(
        `Redis commands for ${scenario.name} (one run): ${Object.entries(redisRuns[0]?.counts?.byCommand ?? {})
          .map(([c, n]) => `${c} ${n}`)
          .join(", ")}.`,
      );
      worst.memory = Math.min(worst.memory, median(replayMemory));
      worst.redis = Math.min(worst.redis, median(replayRedis));
      worst.roundTrips = Math.max(worst.roundTrips, roundTripsPerEvent);
      worst.bytes = Math.max(worst.bytes, bytesPerJob);
    }
    targets.push(
      {
        target: `Ingest ≥ ${fixed(TARGETS.memory)} events/s into memory (replay upstream)`,
        measured: `${fixed(worst.memory)} events/s (slower scenario)`,
        met: worst.memory >= TARGETS.memory,
      },
      {
        target: `Ingest ≥ ${fixed(TARGETS.redis)} events/s into redis (replay upstream)`,
        measured: `${fixed(worst.redis)} events/s (slower scenario)`,
        met: worst.redis >= TARGETS.redis,
      },
      {
        target: `Ingest into memory ≥ ${percent(TARGETS.ofRawDecode)} of a raw decode-and-discard reader on the same bytes`,
        measured: `${percent(worst.ofRawDecode)} (slower scenario)`,
        met: worst.ofRawDecode >= TARGETS.ofRawDecode,
      },
      {
        target: `≤ ${TARGETS.roundTripsPerEvent} store round trips per event in bursts`,
        measured: `${fixed(worst.roundTrips, 4)}`,
        met: worst.roundTrips <= TARGETS.roundTripsPerEvent,
      },
      {
        target: `≤ ${TARGETS.bytesPerJob} bytes of Redis memory per job`,
        measured: `${fixed(worst.bytes)} bytes (larger scenario)`,
        met: worst.bytes <= TARGETS.bytesPerJob,
      },
    );
    return { name: "ingest", data, rows, targets, notes };
  } finally {
    await admin.close();
    await ingester.stop();
    await bunIngester.stop();
    await replay.stop();
  }
}

async function redisBenchmark(redisUrl: string): Promise<number> {
  const { hostname, port } = new URL(redisUrl);
  const output = await runTool(
    "redis-benchmark",
    [
      "-h",
      hostname,
      "-p",
      port,
      "-P",
      String(REDIS_BENCHMARK_PIPELINE),
      "-c",
      "4",
      "-n",
      String(REDIS_BENCHMARK_REQUESTS),
      "-r",
      "1000000",
      "-d",
      String(REDIS_BENCHMARK_VALUE_BYTES),
      "-t",
      "hset",
      "--csv",
    ],
    60_000,
  );
  const rps = /"HSET","([\d.]+)"/.exec(output.stdout)?.[1];
  if (output.code !== 0 || rps === undefined) throw new Error(`redis-benchmark failed: ${output.stderr.trim() || output.stdout.trim()}`);
  return Number(rps);
}
