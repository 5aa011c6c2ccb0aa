// The chaos scenario table: each scenario names its store and replicas and
// brings its fault on and takes it away (the store rollbacks are in rollback.ts).
import { Code } from "@connectrpc/connect";
import { jobSetKeys } from "../src/store/keys.js";
import { startRedisServer } from "../test/support/redis-server.js";
import type { GatewayFault } from "../test/support/upstash-gateway.js";
import { QUEUE, type Scenario } from "./env.js";
import { metricSum, storeCaughtUp, storedCursors, waitForIngest, watchCursors } from "./observe.js";
import { ROLLBACK_SCENARIOS } from "./rollback.js";
import { kill, restart, restartRedis, sleep } from "./supervision.js";

const MID_INGEST = 0.5;

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
      env.notes.push(
        `maxmemory ${max} bytes; another tenant wrote ${written} keys of 10 kB with a 3 s TTL; ${evicted} keys evicted; the service found ${losses} job sets lost and rebuilt them`,
      );
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
