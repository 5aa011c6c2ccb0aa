// Chaos scenarios where the store goes back in time after the service has
// read every job set to its end (so the job sets are quiet, and only the
// lease renewal can notice): a single Redis restarted from an older snapshot,
// a replica promoted by hand behind its master, and a Redis Cluster replica
// promoted behind its killed master. Replication is cut deterministically:
// the replica is told to log in to its master as a user that does not exist
// and its link is closed, so it keeps what it had and cannot resync.
import { Redis } from "ioredis";
import { jobSetKeys } from "../src/store/keys.js";
import type { RedisCluster } from "../test/support/redis-cluster.js";
import { startRedisServer, type RedisServer } from "../test/support/redis-server.js";
import type { Forwarder } from "./proxy.js";

/** What these scenarios need of the runner's environment. */
export interface RollbackEnv {
  readonly size: { readonly leaseTtlMs: number; readonly convergeMs: number; readonly jobSets: number };
  redis: RedisServer;
  readonly dataDir: string;
  readonly cluster?: RedisCluster;
  readonly replica?: RedisServer;
  readonly forwarder?: Forwarder;
  readonly notes: string[];
  readonly services: readonly { readonly child: { kill(signal: NodeJS.Signals): boolean } }[];
  /** Spans of time where wrong answers are allowed: from the rollback to one lease period plus the re-read. */
  readonly windows: { start: number; end: number }[];
  log(message: string): void;
  admin(): Redis;
  waitForIngest(fraction: number): Promise<void>;
  /** Whether one of these job sets (all when undefined) has part of its history stored: a cursor, not the last. */
  partlyStored(jobSetIds?: readonly string[]): Promise<boolean>;
  /** How many job sets the store holds behind Armada's last id, or not at all. */
  behind(): Promise<number>;
  storeCaughtUp(): Promise<boolean>;
  metricSum(name: string): Promise<number>;
}

export interface RollbackScenario {
  readonly name: string;
  readonly store: "redis" | "redis-cluster";
  readonly replicas: 1 | 2;
  readonly withReplica?: boolean;
  readonly settings?: { readonly idleTimeoutMs: number };
  fault(env: RollbackEnv): Promise<number>;
}

const MID_INGEST = 0.5;
// The default idle limit: a quiet stream is not reopened (and its progress not rewritten) during the scenario,
// so only the lease renewal can notice the store going back, as in production.
const QUIET = { idleTimeoutMs: 120_000 } as const;
const QUEUE = "chaos";
const FAILOVER_TIMEOUT_MS = 30_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads the load to its end with `midway` done as soon as one of `jobSetIds`
 * has part of its history stored (so the older state has a job set to roll
 * back, not only ones to lose), or at half the ingest if none is seen by
 * then; the time the whole read took.
 */
async function ingestWith(env: RollbackEnv, midway: () => Promise<void>, jobSetIds?: readonly string[]): Promise<number> {
  const began = Date.now();
  let looking = true;
  const half = env.waitForIngest(MID_INGEST).then(() => false);
  const partly = (async () => {
    while (looking && !(await env.partlyStored(jobSetIds).catch(() => false))) await sleep(25);
    return looking;
  })();
  const caught = await Promise.race([partly, half]);
  looking = false;
  await midway();
  if (!caught) env.notes.push("no job set was seen part-stored before half the ingest; the older state was taken then");
  await Promise.all([partly, half]);
  await env.waitForIngest(1);
  return Date.now() - began;
}

/** Cuts a replica off its master for good: it keeps the data it has, and every resync is refused. */
async function cutReplication(replicaPort: number): Promise<void> {
  const replica = new Redis({ host: "127.0.0.1", port: replicaPort, maxRetriesPerRequest: 1 });
  try {
    await replica.config("SET", "masteruser", "chaos-nobody");
    await replica.config("SET", "masterauth", "chaos-no-such-password");
    await replica.call("CLIENT", "KILL", "TYPE", "master");
  } finally {
    replica.disconnect();
  }
}

/**
 * After the store went back in time at `start`: waits until every job set's
 * cursor is at Armada's last id again and records the allowed window (one
 * lease period, or the time to catch up if longer, but no longer than one
 * lease period and the time the first read of the whole history took), and
 * the service's counts.
 */
async function afterRollback(env: RollbackEnv, start: number, ingestMs: number, mustNotice: boolean): Promise<number> {
  const behind = await env.behind();
  env.notes.push(`${behind} of ${env.size.jobSets} job sets behind Armada's last id (or gone) in the store once it went back`);
  const deadline = Date.now() + env.size.convergeMs;
  while (!(await env.storeCaughtUp()) && Date.now() < deadline) await sleep(50);
  const caughtUp = Date.now();
  // Re-reading part of the history takes at most what reading all of it took at first.
  const end = Math.min(Math.max(start + env.size.leaseTtlMs, caughtUp), start + env.size.leaseTtlMs + ingestMs);
  env.windows.push({ start, end });
  const rollbacks = await env.metricSum("jobservice_store_job_set_rollbacks_total");
  const losses = await env.metricSum("jobservice_store_job_set_losses_total");
  env.notes.push(
    `every job set's cursor back at Armada's last id ${((caughtUp - start) / 1000).toFixed(1)} s after the store went back; the service counted ${rollbacks} job sets rolled back and ${losses} job sets lost`,
  );
  // With two replicas the other one may take the lease first: it knows nothing of what was written, and
  // simply reads on from the older cursor, which is right too.
  if (mustNotice && behind > 0 && rollbacks + losses === 0) env.notes.push("FAILED: the service did not notice the store going back in time");
  if (caughtUp > end) env.notes.push("FAILED: the job sets were not caught up again within the allowed window");
  return caughtUp;
}

export const ROLLBACK_SCENARIOS: readonly RollbackScenario[] = [
  {
    name: "Redis restarted from an older snapshot after the ingest",
    store: "redis",
    replicas: 1,
    settings: QUIET,
    async fault(env) {
      const ingestMs = await ingestWith(env, async () => {
        const admin = env.admin();
        await admin.save();
        admin.disconnect();
      });
      const port = env.redis.port;
      // The service is frozen while Redis restarts, so the restart falls between two lease renewals and no
      // call fails: nothing but the renewal's check can tell what happened.
      for (const service of env.services) service.child.kill("SIGSTOP");
      try {
        await env.redis.crash();
        env.redis = await startRedisServer({ port, dataDir: env.dataDir });
      } finally {
        for (const service of env.services) service.child.kill("SIGCONT");
      }
      const start = Date.now();
      env.notes.push(
        "snapshot taken midway through the ingest; once every job set was read to its end, the service frozen, Redis killed with SIGKILL and restarted from the snapshot, the service thawed",
      );
      return afterRollback(env, start, ingestMs, true);
    },
  },
  {
    name: "Redis replica cut off mid-ingest, master killed, replica promoted by hand",
    store: "redis",
    replicas: 2,
    withReplica: true,
    settings: QUIET,
    async fault(env) {
      const replica = env.replica!;
      const ingestMs = await ingestWith(env, () => cutReplication(replica.port));
      // Promoted and the address moved first, the old master killed right after: the clients reconnect at once
      // and their lease renewals go on succeeding, so nothing but the renewal's check can tell what happened.
      const start = Date.now();
      const promoted = new Redis(replica.url, { maxRetriesPerRequest: 1 });
      await promoted.call("REPLICAOF", "NO", "ONE");
      promoted.disconnect();
      env.forwarder!.moveTo(replica.port);
      await env.redis.crash();
      env.redis = replica;
      env.notes.push(
        "replication cut midway through the ingest; once every job set was read to its end, REPLICAOF NO ONE on the replica, the address moved to it, and the old master killed with SIGKILL",
      );
      return afterRollback(env, start, ingestMs, false);
    },
  },
  {
    name: "Redis Cluster replica cut off mid-ingest, its master killed, replica promoted",
    store: "redis-cluster",
    // One replica of the service, so that the owner that wrote the job sets is the one to take their leases again.
    replicas: 1,
    settings: QUIET,
    async fault(env) {
      const cluster = env.cluster!;
      // The master holding the most job sets, and its replica.
      const owners = new Map<number, number>();
      const jobSetsOn = new Map<string, number>();
      for (let set = 0; set < env.size.jobSets; set++) {
        const jobSetId = `${QUEUE}-${set}`;
        const port = await cluster.masterOf(jobSetKeys({ queue: QUEUE, jobSetId }).jobs);
        owners.set(port, (owners.get(port) ?? 0) + 1);
        jobSetsOn.set(jobSetId, port);
      }
      const [masterPort, held] = [...owners].sort((a, b) => b[1] - a[1])[0]!;
      const onMaster = [...jobSetsOn].filter(([, port]) => port === masterPort).map(([jobSetId]) => jobSetId);
      const replicaPort = await replicaOf(masterPort);
      const ingestMs = await ingestWith(env, () => cutReplication(replicaPort), onMaster);
      await cluster.nodes.find((node) => node.port === masterPort)!.server.crash();
      const killed = Date.now();
      await cluster.waitForFailover(masterPort, FAILOVER_TIMEOUT_MS);
      // The store went back when the replica took over; until then the slot was unserved (calls UNAVAILABLE).
      const promoted = Date.now();
      env.notes.push(
        `replication to the replica of the master holding ${held} of ${env.size.jobSets} job sets cut midway through the ingest; that master killed with SIGKILL once every job set was read to its end; replica promoted after ${((Date.now() - killed) / 1000).toFixed(1)} s`,
      );
      return afterRollback(env, promoted, ingestMs, true);
    },
  },
];

async function replicaOf(masterPort: number): Promise<number> {
  const master = new Redis({ host: "127.0.0.1", port: masterPort, maxRetriesPerRequest: 1 });
  try {
    const info = String(await master.info("replication"));
    const port = /slave0:ip=[^,]+,port=(\d+)/.exec(info)?.[1];
    if (port === undefined) throw new Error(`the master on port ${masterPort} has no replica: ${info}`);
    return Number(port);
  } finally {
    master.disconnect();
  }
}
