import { Cluster, type ClusterOptions } from "ioredis";
import type { Logger } from "../observability/logger.js";
import { describeClusterAddress, parseClusterUrl, type ClusterAddress } from "./cluster-url.js";
import { respReplicatedRunner, respScriptRunner, type ReplicaAck } from "./resp-scripts.js";
import { createScriptedStore } from "./scripted.js";
import type { JobStore } from "./store.js";
import { probeNodes } from "./node-probe.js";
import { isGivenUp, unavailableCause } from "./unavailable-cause.js";

const CONNECT_TIMEOUT_MS = 5_000;
// Bounds every call, including one waiting in the client's offline queue
// while no node is reachable, so callers see an outage instead of hanging.
const COMMAND_TIMEOUT_MS = 15_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
// A command sent to a master that died is retried, after a topology refresh,
// every RETRY_DELAY_MS up to MAX_REDIRECTIONS times (about 5 s): long enough
// for a replica with a short node timeout to take over, short enough that a
// longer outage reaches the caller, whose own retries take it from there.
const RETRY_DELAY_MS = 300;
const MAX_REDIRECTIONS = 16;
const QUIT_TIMEOUT_MS = 2_000;
// What ioredis's cluster client says when it could not reach a node, whatever the socket said.
const VAGUE = /^(Connection is closed|None of startup nodes is available|Failed to refresh slots cache)/;

/** ioredis Cluster options for an address: what the store needs, apart from the nodes. */
export function clusterOptions(address: ClusterAddress): ClusterOptions {
  return {
    // Reads go to masters only: a replica lags behind, and answering from it
    // could show a job in an older state than an answer already given.
    scaleReads: "master",
    maxRedirections: MAX_REDIRECTIONS,
    retryDelayOnFailover: RETRY_DELAY_MS,
    retryDelayOnClusterDown: RETRY_DELAY_MS,
    retryDelayOnTryAgain: RETRY_DELAY_MS,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    // Calls made while the first connection is set up wait for it.
    enableOfflineQueue: true,
    // With TLS, keep the host names the cluster announces so that certificates
    // are checked against names, not resolved addresses (managed clusters).
    ...(address.tls ? { dnsLookup: (host, callback) => callback(null, host) } : {}),
    redisOptions: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 1,
      protocol: 2,
      ...(address.username !== undefined ? { username: address.username } : {}),
      ...(address.password !== undefined ? { password: address.password } : {}),
      ...(address.tls ? { tls: {} } : {}),
    },
  };
}

/**
 * A store on a Redis Cluster, through ioredis' Cluster client, running the
 * same scripts as the single-node store: every script touches only one job
 * set's keys, which share a hash tag and so one slot, and the client sends it
 * to that slot's master.
 */
export function createRedisClusterStore(options: { url: string; ttlSeconds: number; logger?: Logger; replicaAck?: ReplicaAck }): JobStore {
  const address = parseClusterUrl(options.url);
  const where = describeClusterAddress(address);
  const logger = options.logger?.child({ store: where });
  const client = new Cluster(
    address.nodes.map((node) => ({ host: node.host, port: node.port })),
    clusterOptions(address),
  );

  // One log line per outage, not one per node or reconnect attempt.
  let failing = false;
  let lastError: Error | undefined;
  let lastNodeError: Error | undefined;
  // Calls waiting in the offline queue for a client that is not ready; they
  // fail together as soon as the client gives up on a connection attempt.
  const waiting = new Set<(error: Error) => void>();
  // Node errors carry their own address; the first configured node only names a cause that has none.
  const causeOf = (error: unknown): string => unavailableCause(error, address.nodes[0] ?? { host: "", port: 0 });
  // The client says only "Connection is closed." of a node it could not reach: ask the sockets why, once per outage.
  let diagnosis: Promise<string> | undefined;
  const diagnose = (): Promise<string> =>
    (diagnosis ??= probeNodes(address.nodes).then((found) => {
      lastError = new Error(`no cluster node answered: ${found ?? "each accepted a connection and closed it"}`);
      return lastError.message;
    }));
  const unreachable = (error: Error): void => {
    // "Failed to refresh slots cache" says little; the node's error says why (a refused password, a refused connection, …).
    const node = lastNodeError && lastNodeError !== error ? lastNodeError : error;
    if (VAGUE.test(node.message)) void diagnose();
    else lastError = new Error(`no cluster node answered: ${causeOf(node)}`);
    lastError ??= new Error("no cluster node answered");
    if (failing) return;
    failing = true;
    void (diagnosis ?? Promise.resolve(lastError.message)).then((text) => logger?.warn({ err: { message: text } }, "redis cluster store unreachable"));
  };
  client.on("node error", (error: Error) => {
    // A refused connection is followed by "Connection is closed.": keep the error that says why.
    if (lastNodeError === undefined || !/^Connection is closed/.test(error.message)) lastNodeError = error;
  });
  client.on("error", unreachable);
  client.on("reconnecting", () => {
    const reason = lastError ?? new Error("no cluster node answered");
    for (const reject of waiting) reject(reason);
    waiting.clear();
  });
  client.on("ready", () => {
    if (failing) logger?.info("redis cluster store reachable again");
    failing = false;
    lastNodeError = undefined;
    diagnosis = undefined;
  });

  const run = respScriptRunner(client);
  // WAIT blocks its connection until the replicas answer: writes get connections of their own, so reads never queue behind it.
  const writer = options.replicaAck
    ? new Cluster(
        address.nodes.map((node) => ({ host: node.host, port: node.port })),
        clusterOptions(address),
      )
    : undefined;
  writer?.on("error", () => undefined);
  const runWrite = writer && options.replicaAck ? respReplicatedRunner(writer, options.replicaAck) : undefined;
  const explained = async <T>(request: () => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    let giveUp: ((error: Error) => void) | undefined;
    const bounded = new Promise<never>((_, reject) => {
      giveUp = reject;
      timer = setTimeout(() => reject(new Error(`no answer within ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS);
      if (client.status !== "ready") waiting.add(reject);
    });
    try {
      // Between reconnect attempts to a cluster that refused every node, a
      // call would only wait in the offline queue: fail it now instead.
      if (client.status === "reconnecting" || client.status === "end") throw lastError ?? new Error(`the client is ${client.status}`);
      return await Promise.race([request(), bounded]);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const cause =
        VAGUE.test(message) || (diagnosis !== undefined && client.status !== "ready")
          ? await diagnose()
          : error === lastError
            ? message
            : isGivenUp(error)
              ? (lastError?.message ?? "the connection was lost")
              : causeOf(error);
      throw new Error(`Redis Cluster store at ${where}: ${cause}`, { cause: error });
    } finally {
      clearTimeout(timer);
      if (giveUp) waiting.delete(giveUp);
    }
  };

  return createScriptedStore(
    {
      run: (script, keys, args) => explained(() => run(script, keys, args)),
      ...(runWrite && { runWrite: (script, keys, args) => explained(() => runWrite(script, keys, args)) }),
      // A node that answers is not enough: with a master down and its slots
      // unserved, every node reports cluster_state:fail.
      ping: async () => {
        const info = String(await explained(() => client.call("CLUSTER", ["INFO"])));
        const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? "unknown";
        if (state !== "ok") throw new Error(`Redis Cluster store at ${where}: cluster_state is ${state}`);
      },
      close: async () => {
        writer?.disconnect();
        const quitting = client.quit().catch(() => undefined);
        const timeout = new Promise((resolve) => setTimeout(resolve, QUIT_TIMEOUT_MS).unref());
        await Promise.race([quitting, timeout]);
        client.disconnect();
      },
    },
    options,
  );
}
