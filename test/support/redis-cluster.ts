import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { startRedisServer, type RedisServer } from "./redis-server.js";

const run = promisify(execFile);

export interface RedisClusterNode {
  readonly port: number;
  readonly server: RedisServer;
}

export interface RedisCluster {
  /** `redis-cluster://[:password@]127.0.0.1:<p1>,127.0.0.1:<p2>,…` naming every node. */
  readonly url: string;
  readonly nodes: readonly RedisClusterNode[];
  readonly password?: string;
  /** The port of the master that serves `key`'s slot right now. */
  masterOf(key: string): Promise<number>;
  /** Resolves once every live node reports cluster_state:ok and agrees that `port` is no longer a master. */
  waitForFailover(port: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

const MASTERS = 3;
const READY_TIMEOUT_MS = 20_000;
const POLL_MS = 50;

/**
 * Six Debian `redis-server`s on free loopback ports, joined by
 * `redis-cli --cluster create` into three masters with a replica each, and
 * resolved once every node reports cluster_state:ok. A short node timeout
 * makes a replica take over a dead master within a few seconds.
 */
export async function startRedisCluster(options: { nodeTimeoutMs?: number; password?: string } = {}): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "jobservice-cluster-"));
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1_000;
  const { password } = options;
  const servers = await Promise.all(Array.from({ length: MASTERS * 2 }, () => startRedisServer({ cluster: { dir, nodeTimeoutMs }, password })));
  const withClient = <T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> => withNodeClient(port, password, use);
  const everyNode = (nodes: readonly RedisClusterNode[], check: (client: Redis) => Promise<boolean>): Promise<boolean> => everyNodeOf(nodes, password, check);
  const nodes = servers.map((server) => ({ port: server.port, server }));
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const auth = password === undefined ? [] : ["-a", password, "--no-auth-warning"];
    await run("redis-cli", [...auth, "--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "1", "--cluster-yes"], {
      timeout: READY_TIMEOUT_MS,
    }).catch((error: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${error.message}\n${error.stdout ?? ""}${error.stderr ?? ""}`);
    });
    await until(() => everyNode(nodes, isHealthy), READY_TIMEOUT_MS, "the cluster to report cluster_state:ok on every node");
    // cluster_state:ok says nothing of replication: a replica still in its first sync would be promoted empty.
    await until(() => everyNode(nodes, replicaInSync), READY_TIMEOUT_MS, "every replica to finish its first sync");
  } catch (error) {
    await stop();
    throw error;
  }
  const dead = new Set<number>();
  return {
    password,
    url: `redis-cluster://${password === undefined ? "" : `:${encodeURIComponent(password)}@`}${nodes.map((n) => `127.0.0.1:${n.port}`).join(",")}`,
    nodes,
    masterOf: async (key) => {
      const live = nodes.find((n) => !dead.has(n.port));
      if (!live) throw new Error("no cluster node is alive");
      return withClient(live.port, async (client) => {
        const slot = Number(await client.call("CLUSTER", "KEYSLOT", key));
        const ranges = (await client.call("CLUSTER", "SLOTS")) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!range) throw new Error(`no master serves slot ${slot}`);
        return Number(range[2][1]);
      });
    },
    waitForFailover: async (port, timeoutMs) => {
      dead.add(port);
      const live = nodes.filter((n) => !dead.has(n.port));
      await until(
        () =>
          everyNode(live, async (client) => {
            if (!(await isHealthy(client))) return false;
            // Every slot served again means a replica was promoted; the dead node must be marked failed, not merely suspected.
            const table = String(await client.call("CLUSTER", "NODES"));
            const flags =
              table
                .split("\n")
                .find((l) => l.split(" ")[1]?.startsWith(`127.0.0.1:${port}@`))
                ?.split(" ")[2] ?? "";
            return flags.split(",").includes("fail");
          }),
        timeoutMs,
        `a replica to take over from the master on port ${port}`,
      );
    },
    stop,
  };
}

async function isHealthy(client: Redis): Promise<boolean> {
  const info = String(await client.call("CLUSTER", "INFO"));
  return info.includes("cluster_state:ok") && info.includes("cluster_slots_ok:16384") && /cluster_known_nodes:[1-9]/.test(info);
}

/** A master with one online replica, or a replica whose link to its master is up. */
async function replicaInSync(client: Redis): Promise<boolean> {
  const info = String(await client.call("INFO", "replication"));
  if (info.includes("role:master")) return /slave0:.*state=online/.test(info);
  return info.includes("master_link_status:up") && info.includes("master_sync_in_progress:0");
}

async function everyNodeOf(nodes: readonly RedisClusterNode[], password: string | undefined, check: (client: Redis) => Promise<boolean>): Promise<boolean> {
  const results = await Promise.all(nodes.map((n) => withNodeClient(n.port, password, check).catch(() => false)));
  return results.every(Boolean);
}

async function withNodeClient<T>(port: number, password: string | undefined, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: "127.0.0.1", port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
