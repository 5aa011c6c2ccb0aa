import { Redis } from "ioredis";
import type { Logger } from "../observability/logger.js";
import { redactUrl } from "../observability/redact-url.js";
import { createScriptedStore } from "./scripted.js";
import { respReplicatedRunner, respScriptRunner, type ReplicaAck } from "./resp-scripts.js";
import type { JobStore } from "./store.js";
import { isGivenUp, storeHealth, unavailableCause } from "./unavailable-cause.js";

// Callers (readiness probes, the subscriber's retries) must see an outage
// promptly rather than have commands wait in ioredis's queue for a reconnect
// that may never come: a command fails after one reconnect attempt, and no
// command waits longer than COMMAND_TIMEOUT_MS for its reply. The offline
// queue stays on so that calls made while the first connection is being set
// up wait for it instead of failing at start-up.
const CONNECT_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 15_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
const QUIT_TIMEOUT_MS = 2_000;

/** A store in Redis (or Valkey, Dragonfly, Upstash's RESP endpoint) at `redis://` or `rediss://host:port[/db]`. */
export function createRedisStore(options: { url: string; ttlSeconds: number; logger?: Logger; replicaAck?: ReplicaAck }): JobStore {
  const where = redactUrl(options.url);
  const logger = options.logger?.child({ store: where });
  const client = new Redis(options.url, {
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    // RESP2 works with every server that speaks the protocol, old or not quite Redis.
    protocol: 2,
    // Commands issued in the same tick (concurrent reads) go out in one write, and their replies come back
    // in one: a syscall per command on each side was most of what a read cost the two processes.
    enableAutoPipelining: true,
  });

  const server = { host: client.options.host ?? "localhost", port: client.options.port ?? 6379 };
  const health = storeHealth(logger, "redis store");
  client.on("error", (error: unknown) => health.failed(unavailableCause(error, server)));
  client.on("ready", () => health.recovered());

  const run = respScriptRunner(client);
  const unavailable = (cause: string, error?: unknown): Error => new Error(`Redis store at ${where}: ${cause}`, { cause: error });
  // WAIT blocks its connection until the replicas answer: writes get one of their own, so reads never queue behind it.
  const writer = options.replicaAck ? client.duplicate() : undefined;
  writer?.on("error", () => undefined);
  const runWrite = writer && options.replicaAck ? respReplicatedRunner(writer, options.replicaAck) : undefined;
  const explained = async <T>(request: () => Promise<T>): Promise<T> => {
    // While the connection is known down, answer at once with its cause: queueing behind reconnect attempts
    // made every call wait seconds for the same answer.
    const known = client.status === "ready" ? undefined : health.cause();
    if (known !== undefined) throw unavailable(known);
    try {
      return await request();
    } catch (error) {
      if (isGivenUp(error)) throw unavailable(health.cause() ?? "the connection was lost", error);
      throw new Error(`Redis store at ${where}: ${unavailableCause(error, server)}`, { cause: error });
    }
  };

  return createScriptedStore(
    {
      run: (script, keys, args) => explained(() => run(script, keys, args)),
      ...(runWrite && { runWrite: (script, keys, args) => explained(() => runWrite(script, keys, args)) }),
      ping: async () => {
        await explained(() => client.ping());
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
