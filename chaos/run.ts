// `npm run chaos [-- --quick] [-- --only=<scenario>,…] [-- --write]`: every
// fault scenario against the simulator's bulk load, whose every job's final
// state is known. Each scenario counts wrong answers while the fault lasts
// (a poller asking all the time) and mismatches once it is over, and prints
// one line `scenario: jobs, events, mismatches, wrong answers, recovery
// seconds`. Loopback only; every wait is bounded; exits by itself (1 if a
// count is not 0). The full run with --write rewrites docs/reliability.md.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Code } from "@connectrpc/connect";
import { Cluster, Redis } from "ioredis";
import { startSimulator, type BulkLoad, type Simulator } from "../src/simulator/index.js";
import { compareMessageIds } from "../src/simulator/message-id.js";
import { jobSetKeys, RESERVED_FIELDS } from "../src/store/keys.js";
import type { StoreSpec } from "../src/store/open.js";
import { freePort } from "../test/support/free-port.js";
import { startRedisCluster, type RedisCluster } from "../test/support/redis-cluster.js";
import { startRedisServer, type RedisServer } from "../test/support/redis-server.js";
import { startUpstashGateway, type GatewayFault, type UpstashGateway } from "../test/support/upstash-gateway.js";
import { converge, startPoller, type PollerReport } from "./judge.js";
import { startForwarder, type Forwarder } from "./proxy.js";
import { summary, withRepeatedSection } from "./repeated.js";
import { ROLLBACK_SCENARIOS, type RollbackEnv } from "./rollback.js";
import type { ChaosServiceConfig } from "./service.js";

export interface Size {
  readonly name: "full" | "quick";
  readonly jobSets: number;
  readonly jobsPerSet: number;
  /** The Armada scenario's live load. */
  readonly pacedEventsPerSecond: number;
  readonly dropPhaseMs: number;
  readonly stallMs: number;
  readonly redisDownMs: number;
  readonly leaseTtlMs: number;
  readonly idleTimeoutMs: number;
  readonly convergeMs: number;
}

const FULL: Size = {
  name: "full",
  jobSets: 20,
  jobsPerSet: 850,
  pacedEventsPerSecond: 1_000,
  dropPhaseMs: 60_000,
  stallMs: 60_000,
  redisDownMs: 10_000,
  leaseTtlMs: 3_000,
  idleTimeoutMs: 5_000,
  convergeMs: 180_000,
};

export const QUICK: Size = {
  name: "quick",
  jobSets: 4,
  jobsPerSet: 100,
  pacedEventsPerSecond: 500,
  dropPhaseMs: 3_000,
  stallMs: 3_000,
  redisDownMs: 2_000,
  leaseTtlMs: 1_500,
  idleTimeoutMs: 1_000,
  convergeMs: 30_000,
};

const QUEUE = "chaos";
const UPSTASH_TOKEN = "chaos-token";
const SERVICE_SCRIPT = fileURLToPath(new URL("./service.ts", import.meta.url));
const REPORT = fileURLToPath(new URL("../docs/reliability.md", import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const MID_INGEST = 0.5;

interface ServiceChild {
  readonly url: string;
  readonly config: ChaosServiceConfig;
  child: ChildProcess;
  stopped: boolean;
  /** Everything it logged (warn and above). */
  log: string;
}

interface Env extends RollbackEnv {
  readonly size: Size;
  /** A client of the cluster's nodes, for looking at what the store holds (cluster scenarios). */
  readonly clusterReader?: Cluster;
  readonly sim: Simulator;
  readonly load: BulkLoad;
  readonly gateway?: UpstashGateway;
  readonly services: ServiceChild[];
}

export interface Scenario {
  readonly name: string;
  readonly store: "redis" | "upstash" | "redis-cluster";
  readonly replicas: 1 | 2;
  /** Start a replica of the Redis, and give the service the master's address through a forwarder that can move. */
  readonly withReplica?: boolean;
  /** Subscriber settings of this scenario's services, over the size's. */
  readonly settings?: { readonly idleTimeoutMs: number };
  readonly paced?: boolean;
  readonly redisArgs?: (size: Size) => readonly string[];
  /** Brings the fault on and takes it away; resolves with the time it ended. */
  fault(env: Env): Promise<number>;
}

export interface ScenarioResult {
  readonly name: string;
  readonly jobs: number;
  readonly events: number;
  readonly mismatches: number;
  readonly wrong: number;
  /** Wrong answers inside the allowed windows (not in `wrong`). */
  readonly excused: number;
  readonly recoverySeconds: number;
  readonly notes: readonly string[];
  readonly poller: PollerReport;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

async function startService(config: ChaosServiceConfig): Promise<ServiceChild> {
  const child = spawn(process.execPath, ["--import", "tsx", SERVICE_SCRIPT, JSON.stringify(config)], { stdio: ["ignore", "pipe", "pipe"] });
  const service: ServiceChild = { url: `http://127.0.0.1:${config.port}`, config, child, stopped: false, log: "" };
  child.stderr?.on("data", (chunk: Buffer) => (service.log += chunk.toString()));
  children.add(child);
  child.once("exit", () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service on port ${config.port} was not ready in time: ${service.log.slice(-2000)}`)), READY_TIMEOUT_MS);
    child.once("exit", (code, signal) => reject(new Error(`the service on port ${config.port} exited (${signal ?? code}): ${service.log.slice(-2000)}`)));
    createInterface({ input: child.stdout! }).once("line", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return service;
}

function kill(service: ServiceChild): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    service.child.once("exit", () => resolve());
    service.child.kill("SIGKILL");
  });
}

async function restart(env: Env, index: number): Promise<void> {
  const old = env.services[index]!;
  await kill(old);
  const fresh = await startService(old.config);
  fresh.log = old.log;
  env.services[index] = fresh;
}

/** Events the live services have written to the store, by their own metrics. */
function eventsWritten(env: Env): Promise<number> {
  return metricSum(env, "jobservice_store_write_batch_events_sum");
}

/** A metric without labels, summed over the live services. */
async function metricSum(env: Env, name: string): Promise<number> {
  let total = 0;
  for (const service of env.services) {
    if (service.stopped) continue;
    const text = await fetch(`${service.url}/metrics`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.text())
      .catch(() => "");
    total += Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  }
  return total;
}

/**
 * Waits until the services have written `fraction` of the load's events (by
 * their metrics), or, for all of it, until the store holds every job set's
 * last event id as its cursor (metrics restart with a process and miss
 * writes whose answer was lost).
 */
async function waitForIngest(env: Env, fraction: number): Promise<void> {
  const deadline = Date.now() + env.size.convergeMs;
  while (Date.now() < deadline) {
    if (fraction >= 1 ? await storeCaughtUp(env) : (await eventsWritten(env)) >= env.load.totalEvents * fraction) return;
    await sleep(50);
  }
  env.notes.push(`ingest did not reach ${Math.round(fraction * 100)} % within ${env.size.convergeMs / 1000} s`);
}

async function partlyStored(env: Env, jobSetIds?: readonly string[]): Promise<boolean> {
  const cursors = await storedCursors(env);
  for (const [jobSetId, cursor] of cursors) {
    if (jobSetIds && !jobSetIds.includes(jobSetId)) continue;
    if (cursor !== env.sim.events(QUEUE, jobSetId).at(-1)?.id) return true;
  }
  return false;
}

async function storeCaughtUp(env: Env): Promise<boolean> {
  const cursors = await storedCursors(env).catch(() => new Map<string, string>());
  for (let set = 0; set < env.size.jobSets; set++) {
    const jobSetId = `${QUEUE}-${set}`;
    if (cursors.get(jobSetId) !== env.sim.events(QUEUE, jobSetId).at(-1)?.id) return false;
  }
  return true;
}

/** The stored cursor of every job set, to see which ones a restart must resume rather than replay. */
async function storedCursors(env: Env): Promise<Map<string, string>> {
  // A cluster client is kept for the scenario: connecting to every node for each look would be too slow to watch an ingest.
  const admin = env.clusterReader ?? env.admin();
  const cursors = new Map<string, string>();
  try {
    for (let set = 0; set < env.size.jobSets; set++) {
      const jobSetId = `${QUEUE}-${set}`;
      const cursor = await admin.hget(jobSetKeys({ queue: QUEUE, jobSetId }).jobs, RESERVED_FIELDS.cursor);
      if (cursor) cursors.set(jobSetId, cursor);
    }
  } finally {
    if (admin !== env.clusterReader) admin.disconnect();
  }
  return cursors;
}

/**
 * Samples every job set's stored cursor until stopped and counts the times
 * one moved backwards (what a stale replica's write would do).
 */
function watchCursors(env: Env): { stop(): Promise<number> } {
  let running = true;
  let regressions = 0;
  const done = (async () => {
    const highest = new Map<string, string>();
    while (running) {
      const now = await storedCursors(env).catch(() => new Map<string, string>());
      for (const [jobSetId, cursor] of now) {
        const before = highest.get(jobSetId);
        if (before !== undefined && compareMessageIds(cursor, before) < 0) regressions++;
        else highest.set(jobSetId, cursor);
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return regressions;
    },
  };
}

async function restartRedis(env: Env, keepData: boolean): Promise<void> {
  const port = env.redis.port;
  if (keepData) {
    const admin = env.admin();
    await admin.save();
    admin.disconnect();
  }
  await env.redis.stop();
  if (!keepData) rmSync(join(env.dataDir, "dump.rdb"), { force: true });
  return void (env.redis = await startRedisServer({ port, dataDir: env.dataDir }));
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "kill -9 mid-ingest, restart",
    store: "redis",
    replicas: 1,
    async fault(env) {
      await waitForIngest(env, MID_INGEST);
      const cursors = await storedCursors(env);
      const killedAt = env.sim.clock.now();
      await kill(env.services[0]!);
      env.log(`killed the service with ${cursors.size} of ${env.size.jobSets} job sets' cursors stored`);
      await restart(env, 0);
      const ended = Date.now();
      await waitForIngest(env, 1);
      const replays = env.sim
        .calls({ method: "GetJobSetEvents" })
        .filter((call) => call.at >= killedAt && cursors.has(call.jobSetId) && call.fromMessageId === "").length;
      env.notes.push(`replays from "" after the restart, of the ${cursors.size} job sets with a stored cursor: ${replays}`);
      if (replays > 0) env.notes.push("FAILED: a job set with a stored cursor was replayed from the start");
      return ended;
    },
  },
  {
    name: "Armada drops every stream every 3 s, then stalls them silently",
    store: "redis",
    replicas: 1,
    paced: true,
    async fault(env) {
      const until = Date.now() + env.size.dropPhaseMs;
      let drops = 0;
      while (Date.now() < until) {
        await sleep(3_000);
        drops += env.sim.faults.dropStreams(Code.Unavailable, "chaos: Armada dropped the stream");
      }
      env.sim.faults.stall(env.size.stallMs);
      await sleep(env.size.stallMs);
      env.sim.faults.unstall();
      env.notes.push(`${drops} streams dropped over ${env.size.dropPhaseMs / 1000} s, then every stream stalled for ${env.size.stallMs / 1000} s`);
      return Date.now();
    },
  },
  {
    name: "Redis stops mid-ingest and comes back with its data",
    store: "redis",
    replicas: 1,
    async fault(env) {
      await waitForIngest(env, MID_INGEST);
      const port = env.redis.port;
      const admin = env.admin();
      await admin.save();
      admin.disconnect();
      await env.redis.stop();
      await sleep(env.size.redisDownMs);
      env.redis = await startRedisServer({ port, dataDir: env.dataDir });
      env.notes.push(`Redis down for ${env.size.redisDownMs / 1000} s`);
      return Date.now();
    },
  },
  {
    name: "Redis restarts empty mid-ingest",
    store: "redis",
    replicas: 1,
    async fault(env) {
      await waitForIngest(env, MID_INGEST);
      await restartRedis(env, false);
      return Date.now();
    },
  },
  {
    name: "a job set's key is evicted, mid-ingest and after",
    store: "redis",
    replicas: 1,
    async fault(env) {
      const admin = env.admin();
      try {
        await waitForIngest(env, MID_INGEST);
        await admin.del(jobSetKeys({ queue: QUEUE, jobSetId: `${QUEUE}-0` }).jobs);
        await waitForIngest(env, 1);
        await admin.del(jobSetKeys({ queue: QUEUE, jobSetId: `${QUEUE}-1` }).jobs);
      } finally {
        admin.disconnect();
      }
      return Date.now();
    },
  },
  {
    name: "Redis with a small maxmemory and volatile-random eviction, whole run",
    store: "redis",
    replicas: 1,
    // A third more than the finished data needs (measured: about 330 bytes per job, plus Redis's own 1 MB):
    // the job sets fit, but not together with another tenant's keys.
    redisArgs: (size) => ["--maxmemory", String(Math.round(size.jobSets * size.jobsPerSet * 330 * 1.3 + 1_500_000)), "--maxmemory-policy", "volatile-random"],
    async fault(env) {
      // Another tenant of the same Redis writes short-lived keys faster than memory allows, until the ingest is over.
      const tenant = env.admin();
      const value = "x".repeat(10_000);
      let running = true;
      let written = 0;
      const filling = (async () => {
        while (running) {
          await tenant.set(`tenant:${written++}`, value, "PX", 3_000).catch(() => undefined);
          if (written % 20 === 0) await sleep(10);
        }
      })();
      await sleep(env.size.redisDownMs * 3);
      running = false;
      await filling;
      const info = await tenant.info("stats");
      const memory = await tenant.info("memory");
      tenant.disconnect();
      const evicted = /evicted_keys:(\d+)/.exec(info)?.[1] ?? "?";
      const max = /maxmemory:(\d+)/.exec(memory)?.[1] ?? "?";
      const losses = await metricSum(env, "jobservice_store_job_set_losses_total");
      env.notes.push(`maxmemory ${max} bytes; another tenant wrote ${written} keys of 10 kB with a 3 s TTL; ${evicted} keys evicted; the service found ${losses} job sets lost and rebuilt them`);
      return Date.now();
    },
  },
  {
    name: "Upstash gateway answers 429, 5xx and slowly",
    store: "upstash",
    replicas: 1,
    async fault(env) {
      const faults: readonly GatewayFault[] = [
        { status: 429, every: 3 },
        { status: 503, every: 3 },
        { status: 500, every: 4, afterRedis: true },
        { status: 502, every: 5 },
        { delayMs: 200 },
      ];
      const gateway = env.gateway!;
      const before = gateway.faultsServed();
      const deadline = Date.now() + env.size.convergeMs;
      let turn = 0;
      while (!(await storeCaughtUp(env)) && Date.now() < deadline) {
        gateway.setFault(faults[turn++ % faults.length]);
        await sleep(1_000);
      }
      gateway.setFault(undefined);
      env.notes.push(`${gateway.faultsServed() - before} gateway answers were 429 or 5xx, ${turn} fault phases of 1 s`);
      return Date.now();
    },
  },
  {
    name: "two replicas, SIGKILL one mid-ingest",
    store: "redis",
    replicas: 2,
    async fault(env) {
      await waitForIngest(env, MID_INGEST);
      const victim = env.services[1]!;
      victim.stopped = true;
      await kill(victim);
      return Date.now();
    },
  },
  {
    name: "two replicas, SIGSTOP one past its lease, then SIGCONT",
    store: "redis",
    replicas: 2,
    async fault(env) {
      const cursors = watchCursors(env);
      await waitForIngest(env, MID_INGEST);
      const victim = env.services[1]!;
      victim.stopped = true;
      victim.child.kill("SIGSTOP");
      await sleep(env.size.leaseTtlMs * 3);
      victim.child.kill("SIGCONT");
      victim.stopped = false;
      const ended = Date.now();
      await waitForIngest(env, 1);
      await sleep(env.size.leaseTtlMs);
      const regressions = await cursors.stop();
      const fenced = (victim.log.match(/"reason":"fenced"/g) ?? []).length;
      const stale = (victim.log.match(/"reason":"stale"/g) ?? []).length;
      env.notes.push(`stored cursors moved backwards: ${regressions} times; the resumed replica's writes refused as fenced: ${fenced}, as stale: ${stale}`);
      if (regressions > 0) env.notes.push("FAILED: a cursor moved backwards");
      return ended;
    },
  },
  ...ROLLBACK_SCENARIOS,
];

export async function runScenario(scenario: Scenario, size: Size, log: (message: string) => void): Promise<ScenarioResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "chaos-"));
  const redis = await startRedisServer({ dataDir, args: scenario.redisArgs?.(size) ?? [] });
  const gateway = scenario.store === "upstash" ? await startUpstashGateway({ redisUrl: redis.url, token: UPSTASH_TOKEN }) : undefined;
  const sim = await startSimulator({ queues: [QUEUE], seed: 10 });
  const services: ServiceChild[] = [];
  const notes: string[] = [];
  const windows: { start: number; end: number }[] = [];
  let env: Env | undefined;
  let cluster: RedisCluster | undefined;
  let clusterReader: Cluster | undefined;
  let replica: RedisServer | undefined;
  let forwarder: Forwarder | undefined;
  try {
    if (scenario.store === "redis-cluster") {
      cluster = await startRedisCluster({ nodeTimeoutMs: 1_000 });
      clusterReader = new Cluster(cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })), { redisOptions: { maxRetriesPerRequest: 1 } });
    }
    if (scenario.withReplica) {
      replica = await startRedisServer({ args: ["--replicaof", "127.0.0.1", String(redis.port)] });
      forwarder = await startForwarder(redis.port);
      await replicaInSync(replica);
    }
    const load = sim.bulkLoad({
      queue: QUEUE,
      jobSets: size.jobSets,
      jobsPerSet: size.jobsPerSet,
      jobSetPrefix: `${QUEUE}-`,
      eventsPerSecond: scenario.paced ? size.pacedEventsPerSecond : Infinity,
    });
    if (!scenario.paced) await load.done;
    const store: StoreSpec = gateway
      ? { kind: "upstash", url: gateway.url, token: UPSTASH_TOKEN }
      : cluster
        ? { kind: "redis-cluster", url: cluster.url }
        : { kind: "redis", url: forwarder?.url ?? redis.url };
    for (let replica = 0; replica < scenario.replicas; replica++) {
      services.push(
        await startService({
          port: await freePort(),
          store,
          armadaUrl: sim.url,
          replicaId: `chaos-${replica}`,
          settings: { leaseTtlMs: size.leaseTtlMs, idleTimeoutMs: size.idleTimeoutMs, catchUpWaitMs: 2_000, reconnectMaxMs: 2_000, ...scenario.settings },
        }),
      );
    }
    const running: Env = {
      size,
      sim,
      load,
      redis,
      dataDir,
      gateway,
      cluster,
      clusterReader,
      replica,
      forwarder,
      services,
      notes,
      windows,
      log,
      admin: () => new Redis(running.redis.url, { maxRetriesPerRequest: 1 }),
      waitForIngest: (fraction) => waitForIngest(running, fraction),
      partlyStored: (jobSetIds) => partlyStored(running, jobSetIds),
      behind: async () => {
        const cursors = await storedCursors(running);
        return Array.from({ length: size.jobSets }, (_, set) => `${QUEUE}-${set}`).filter((id) => cursors.get(id) !== sim.events(QUEUE, id).at(-1)?.id).length;
      },
      storeCaughtUp: () => storeCaughtUp(running),
      metricSum: (name) => metricSum(running, name),
    };
    env = running;
    const started = Date.now();
    // A cache is always a little behind a live log; a silent stall is only noticed after two idle limits.
    const notFoundGraceMs = scenario.paced ? 2 * size.idleTimeoutMs + 2_000 : 0;
    const poller = startPoller(() => services.filter((s) => !s.stopped).map((s) => s.url), load, { concurrency: 4, notFoundGraceMs });
    const faultEnded = await scenario.fault(env);
    await load.done;
    const live = services.find((s) => !s.stopped)!;
    const outcome = await converge(live.url, load.jobs, size.convergeMs);
    const report = await poller.stop();
    const recoverySeconds = Math.max(0, (outcome.at - faultEnded) / 1000);
    const allowed = (at: number): boolean => windows.some((w) => at >= w.start && at < w.end);
    const excused = report.wrongAt.filter(allowed).length;
    const wrong = report.wrong - excused;
    if (outcome.mismatches.length > 0) notes.push(`mismatches, e.g. ${outcome.mismatches.slice(0, 3).join("; ")}`);
    const examples = report.examples.filter((example) => !allowed(example.at)).slice(0, 5);
    if (wrong > 0) notes.push(`wrong answers, e.g. ${examples.map((example) => example.text).join("; ")}`);
    for (const w of windows) {
      notes.push(`${excused} wrong answers within the allowed window of ${((w.end - w.start) / 1000).toFixed(1)} s after the store went back (one lease period, or until caught up again)`);
    }
    const unanswered = Object.entries(report.unanswered).map(([why, n]) => `${n} ${why}`).join(", ");
    notes.push(`poller: ${report.answers} answers${unanswered ? `, and ${unanswered} calls unanswered` : ""}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
    return { name: scenario.name, jobs: load.jobs.length, events: load.totalEvents, mismatches: outcome.mismatches.length, wrong, excused, recoverySeconds, notes, poller: report };
  } finally {
    await Promise.all(services.map(kill));
    await gateway?.stop();
    clusterReader?.disconnect();
    await forwarder?.close();
    await replica?.stop();
    await cluster?.stop();
    await sim.close();
    await redis.stop();
    // A fault that restarted Redis left a new server in env.redis.
    if (env && env.redis !== redis) await env.redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function replicaInSync(replica: RedisServer): Promise<void> {
  const client = new Redis(replica.url, { maxRetriesPerRequest: 1 });
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!/master_link_status:up/.test(await client.info("replication"))) {
      if (Date.now() > deadline) throw new Error("the Redis replica did not finish its first sync in time");
      await sleep(50);
    }
  } finally {
    client.disconnect();
  }
}

export function line(result: ScenarioResult): string {
  return `${result.name}: ${result.jobs} jobs, ${result.events} events, ${result.mismatches} mismatches, ${result.wrong} wrong answers, ${result.recoverySeconds.toFixed(1)} s recovery`;
}

async function main(argv: readonly string[]): Promise<number> {
  const size = argv.includes("--quick") ? QUICK : FULL;
  const only = argv.find((arg) => arg.startsWith("--only="))?.slice("--only=".length).split(",");
  const repeat = Number(argv.find((arg) => arg.startsWith("--repeat="))?.slice("--repeat=".length) ?? 1);
  if (!Number.isSafeInteger(repeat) || repeat < 1) throw new Error("--repeat=N wants a whole number of runs, 1 or more");
  const started = performance.now();
  const startedAt = new Date();
  const load = loadavg()[0] ?? Number.NaN;
  const log = (message: string): void => {
    process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
  };
  log(`${size.name} run: ${size.jobSets} job sets × ${size.jobsPerSet} jobs per scenario`);
  const results: ScenarioResult[] = [];
  const summaries: string[] = [];
  for (const [index, scenario] of SCENARIOS.entries()) {
    if (only && !only.some((wanted) => String(index + 1) === wanted || scenario.name.startsWith(wanted))) continue;
    const runs: ScenarioResult[] = [];
    for (let run = 1; run <= repeat; run++) {
      log(`${scenario.name}${repeat > 1 ? ` (run ${run} of ${repeat})` : ""}…`);
      const result = await runScenario(scenario, size, log);
      runs.push(result);
      process.stdout.write(`${line(result)}\n`);
      for (const note of result.notes) process.stdout.write(`  ${note}\n`);
    }
    results.push(...runs);
    if (repeat > 1) summaries.push(summary(runs));
  }
  for (const text of summaries) process.stdout.write(`${text}\n`);
  const elapsed = (performance.now() - started) / 1000;
  const failed = results.filter((r) => r.mismatches > 0 || r.wrong > 0 || r.notes.some((n) => n.startsWith("FAILED")));
  if (argv.includes("--write")) {
    const previous = existsSync(REPORT) ? readFileSync(REPORT, "utf8") : "";
    const command = `npm run chaos -- ${argv.join(" ")}`.trim();
    const section = `## Repeated runs\n\nFrom \`${command}\` on ${startedAt.toISOString()} (${elapsed.toFixed(0)} s, load average ${load.toFixed(2)} at the start), ${size.name} size:\n\n${summaries.map((s) => `- ${s}`).join("\n")}\n`;
    const report = repeat > 1 ? withRepeatedSection(previous, previous, section) : withRepeatedSection(reliabilityReport(results, { size, startedAt, elapsed, load, command }), previous);
    writeFileSync(REPORT, report);
    log("wrote docs/reliability.md");
  }
  log(`${results.length} scenarios in ${elapsed.toFixed(0)} s; ${failed.length} with a count that is not 0`);
  return failed.length === 0 ? 0 : 1;
}

function reliabilityReport(results: readonly ScenarioResult[], run: { size: Size; startedAt: Date; elapsed: number; load: number; command: string }): string {
  const { size } = run;
  return `# Reliability under faults

From one run of \`${run.command}\` on ${run.startedAt.toISOString()} (${run.elapsed.toFixed(0)} s, load average ${run.load.toFixed(2)} at the start),
on loopback, ${size.name} size: each scenario bulk-loads ${size.jobSets} job sets × ${size.jobsPerSet} jobs into the simulator
(every job's final state known in advance), runs the service as its own process(es) (\`chaos/service.ts\`: the
same composition as \`jobservice serve\`) with a lease of ${size.leaseTtlMs / 1000} s and a stream idle limit of ${size.idleTimeoutMs / 1000} s, and brings the fault on.

- **wrong answers**: counted by a poller that asks about the jobs round robin (4 calls at a time) from the start of the
  scenario until it has converged: a terminal state other than the true one, or \`JOB_ID_NOT_FOUND\` for a job whose
  first event was in Armada's log (in the live-load scenario: for ${(2 * size.idleTimeoutMs + 2_000) / 1000} s, two idle limits and 2 s, since a
  silently stalled stream is only noticed after the idle limit). \`CONNECTION_ERR\`, \`UNAVAILABLE\`, no answer, and a
  state not yet final are allowed while a fault lasts.
- **mismatches**: jobs whose answer is not their true final state in the last full pass over every job; passes repeat
  until one is clean (at most ${size.convergeMs / 1000} s).
- **recovery seconds**: from the end of the fault to the end of the first clean pass (it includes reading whatever
  the fault left unread, so a fault early in the ingest recovers longer).
- **a store that goes back in time** (the last three scenarios, and the repeated runs below): the store is made to
  hold an older, consistent state of the job sets after the service has read them all to their end, so that only
  the lease renewal's check can notice (the streams' idle limit is the default 120 s there). The older state is
  taken as soon as a job set has part of its history stored (or at half the ingest): a Redis restarted from a
  snapshot taken then (one replica of the service, frozen over the restart so that no call fails); a replica cut
  off then (it is told to log in to its master as a user that does not exist, and its link is closed), promoted
  with \`REPLICAOF NO ONE\` and the service's address moved to it before its master is killed (two replicas of
  the service); a Redis Cluster replica cut off the same way and promoted by the cluster after its master is
  killed (one replica of the service). A wrong answer within one lease period plus the time to re-read the job
  sets (no longer than the first read of the whole load took) is counted apart, as allowed; one after it counts
  as wrong. Without the renewal's check the first two never catch up (a mismatch after the 30 s of a quick run).

${results.map((r) => `${line(r)}\n${r.notes.map((n) => `  - ${n}`).join("\n")}`).join("\n\n")}

Fast variants of the same scenarios run in \`npm test\` (\`test/faults/chaos.test.ts\`, \`--quick\` size).
Malformed events from Armada are not among these faults: each is skipped with a count and a warning and the stream goes on
(\`test/subscriber/undecodable-events.test.ts\`).
`;
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
