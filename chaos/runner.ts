// Runs one chaos scenario from start to clean-up: Redis (or a cluster, a
// replica, the Upstash gateway), the simulator's bulk load, the service
// replicas and a poller; then the fault, convergence and the counts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { startSimulator } from "../src/simulator/index.js";
import type { StoreSpec } from "../src/store/open.js";
import { freePort } from "../test/support/free-port.js";
import { startRedisCluster, type RedisCluster } from "../test/support/redis-cluster.js";
import { startRedisServer, type RedisServer } from "../test/support/redis-server.js";
import { startUpstashGateway } from "../test/support/upstash-gateway.js";
import { QUEUE, type Env, type Scenario, type ScenarioResult, type ServiceChild, type Size } from "./env.js";
import { converge, startPoller } from "./judge.js";
import { metricSum, partlyStored, storeCaughtUp, storedCursors, waitForIngest } from "./observe.js";
import { startForwarder, type Forwarder } from "./proxy.js";
import { line } from "./report.js";
import { summary } from "./repeated.js";
import { SCENARIOS } from "./scenarios.js";
import { kill, replicaInSync, startService } from "./supervision.js";

const UPSTASH_TOKEN = "chaos-token";

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
      clusterReader = new Cluster(
        cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
        { redisOptions: { maxRetriesPerRequest: 1 } },
      );
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
      notes.push(
        `${excused} wrong answers within the allowed window of ${((w.end - w.start) / 1000).toFixed(1)} s after the store went back (one lease period, or until caught up again)`,
      );
    }
    const unanswered = Object.entries(report.unanswered)
      .map(([why, n]) => `${n} ${why}`)
      .join(", ");
    notes.push(
      `poller: ${report.answers} answers${unanswered ? `, and ${unanswered} calls unanswered` : ""}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
    );
    return {
      name: scenario.name,
      jobs: load.jobs.length,
      events: load.totalEvents,
      mismatches: outcome.mismatches.length,
      wrong,
      excused,
      recoverySeconds,
      notes,
      poller: report,
    };
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

/**
 * Runs the chosen scenarios (by number or name prefix; all when `only` is
 * undefined) `repeat` times each, printing each run's line and notes, and a
 * summary per scenario when repeated.
 */
export async function runScenarios(
  size: Size,
  options: { readonly only?: readonly string[]; readonly repeat: number },
  log: (message: string) => void,
): Promise<{ results: ScenarioResult[]; summaries: string[] }> {
  const { only, repeat } = options;
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
  return { results, summaries };
}
