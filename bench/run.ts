// `npm run bench [-- --quick] [-- --only=<suite>,…]`: every benchmark on
// loopback, each against a baseline measured in the same run; writes
// bench/results/latest.json and latest.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { startRedisServer } from "../test/support/redis-server.js";
import { processScript, startChild } from "./lib/child.js";
import { FULL_SCALE, QUICK_SCALE, type BenchContext } from "./lib/context.js";
import { describeMachine, describeVersions } from "./lib/machine.js";
import { markdownReport, type BenchMeta, type SuiteOutcome } from "./lib/report.js";
import { MissingTools, requireTools } from "./lib/tools.js";
import type { SimulatorReady } from "./processes/protocol.js";
import { batchReadsSuite } from "./suites/batch-reads.js";
import { freshnessSuite } from "./suites/freshness.js";
import { ingestSuite } from "./suites/ingest.js";
import { naiveReplaySuite } from "./suites/naive-replay.js";
import { queryApiSuite } from "./suites/query-api.js";
import { readPathSuite } from "./suites/read-path.js";
import { replicaAckSuite } from "./suites/replica-ack.js";
import { scaleSuite } from "./suites/scale.js";
import { startupSuite } from "./suites/startup.js";
import { watchesSuite } from "./suites/watches.js";

const SUITES: Readonly<Record<string, (context: BenchContext) => Promise<SuiteOutcome>>> = {
  "read-path": readPathSuite,
  "naive-replay": naiveReplaySuite,
  ingest: ingestSuite,
  freshness: freshnessSuite,
  scale: scaleSuite,
  startup: startupSuite,
  "batch-reads": batchReadsSuite,
  watches: watchesSuite,
  "query-api": queryApiSuite,
  "replica-ack": replicaAckSuite,
};
const READ_SET_JOBS = 1_000;
const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));

async function main(argv: readonly string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const only = argv
    .find((arg) => arg.startsWith("--only="))
    ?.slice("--only=".length)
    .split(",");
  const unknown = only?.filter((name) => !(name in SUITES)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown suite ${unknown.join(", ")}; suites: ${Object.keys(SUITES).join(", ")}\n`);
    return 2;
  }
  try {
    requireTools();
  } catch (error) {
    if (!(error instanceof MissingTools)) throw error;
    process.stderr.write(`bench: ${error.message}\n`);
    return 2;
  }

  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  const started = performance.now();
  const log = (message: string): void => {
    process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
  };
  log(`${quick ? "quick" : "full"} run on ${describeMachine().cpu}`);
  const redis = await startRedisServer();
  const simulator = await startChild<SimulatorReady>(processScript("simulator"), { readJobs: READ_SET_JOBS });
  const context: BenchContext = { scale: quick ? QUICK_SCALE : FULL_SCALE, simulator, redisUrl: redis.url, log };
  const outcomes: SuiteOutcome[] = [];
  let failures = 0;
  try {
    for (const [name, suite] of Object.entries(SUITES)) {
      if (only && !only.includes(name)) continue;
      try {
        outcomes.push(await suite(context));
      } catch (error) {
        failures++;
        const message = error instanceof Error ? error.message : String(error);
        log(`${name} FAILED: ${message}`);
        outcomes.push({ name, data: { error: message }, rows: [], targets: [], notes: [`The ${name} suite failed in this run: ${message.split("\n")[0]}`] });
      }
    }
  } finally {
    await simulator.stop();
    await redis.stop();
  }

  const meta: BenchMeta = {
    date: startedAt.toISOString(),
    mode: quick ? "quick" : "full",
    machine: describeMachine(),
    versions: describeVersions(),
    elapsedS: (performance.now() - started) / 1000,
    loadAverage: { start: loadAtStart, end: loadavg()[0] ?? Number.NaN },
  };
  const markdown = markdownReport(meta, outcomes);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}latest.json`, `${JSON.stringify({ meta, suites: outcomes }, null, 2)}\n`);
  writeFileSync(`${RESULTS_DIR}latest.md`, markdown);
  process.stdout.write(markdown);
  log(`wrote bench/results/latest.json and latest.md in ${meta.elapsedS.toFixed(0)} s`);
  return failures === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
