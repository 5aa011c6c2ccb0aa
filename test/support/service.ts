import { pino, type Logger } from "pino";
import type { AuthOptions, AuthTuning } from "../../src/auth/index.js";
import { startJobService, startService, type RunningService } from "../../src/cli/job-service.js";
import { loadServeConfig } from "../../src/config/load.js";
import type { ConnectionLimits } from "../../src/server/limits.js";
import type { JobStatusSource } from "../../src/answers/answer.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { JobStore } from "../../src/store/store.js";
import type { JobSetStatus } from "../../src/subscriber/index.js";
import { withWriteNotices } from "../../src/watch/write-notices.js";

export interface TestService {
  readonly url: string;
  readonly port: number;
  readonly store: JobStore;
  readonly service: RunningService;
  stop(): Promise<void>;
}

/** The real service on a free loopback port, over the memory store unless told otherwise. */
export async function startTestService(
  options: {
    store?: JobStore;
    status?: JobStatusSource;
    tls?: { certFile: string; keyFile: string };
    maxRequestBytes?: number;
    limits?: ConnectionLimits;
    shutdownGraceSeconds?: number;
    healthWatchIntervalMs?: number;
    auth?: AuthOptions;
    armadaUrl?: string;
    authTuning?: Partial<AuthTuning>;
    now?: () => number;
    logger?: Logger;
    host?: string;
    /** Off: every RPC through connect (the fast path's reference). */
    fastPath?: boolean;
    /** The job sets the status page lists. */
    jobSets?: () => Iterable<JobSetStatus>;
    maxBatchIds?: number;
    maxWatches?: number;
    watchPollMs?: number;
  } = {},
): Promise<TestService> {
  // Writes through `store` reach watchers at once, as the subscriber's do.
  const { store, notices } = withWriteNotices(options.store ?? createMemoryStore({ ttlSeconds: 3600 }));
  const service = await startService(
    {
      host: options.host ?? "127.0.0.1",
      port: 0,
      tls: options.tls,
      auth: options.auth,
      armada: options.armadaUrl === undefined ? undefined : { url: options.armadaUrl },
      maxRequestBytes: options.maxRequestBytes ?? 65536,
      fastPath: options.fastPath,
      limits: options.limits,
      shutdownGraceSeconds: options.shutdownGraceSeconds ?? 5,
      healthWatchIntervalMs: options.healthWatchIntervalMs ?? 50,
      maxBatchIds: options.maxBatchIds,
      maxWatches: options.maxWatches,
      watchPollMs: options.watchPollMs,
    },
    {
      store,
      logger: options.logger ?? pino({ level: "silent" }),
      status: options.status,
      authTuning: options.authTuning,
      now: options.now,
      jobSets: options.jobSets,
      notices,
    },
  );
  const port = service.listener.port;
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    store,
    service,
    stop: async () => {
      await service.stop();
      await store.close();
    },
  };
}

/**
 * The whole service as `jobservice serve` wires it (subscriber, status page,
 * memory store) on a free loopback port, following Armada at `armadaUrl`
 * (or where `flags` say).
 */
export async function startFullTestService(armadaUrl: string | undefined, flags: readonly string[] = []): Promise<{ url: string; stop(): Promise<void> }> {
  // Without a URL, Armada's address comes from the flags (an armadactl config, say).
  const armada = armadaUrl === undefined ? [] : ["--armada-url", armadaUrl];
  const config = loadServeConfig({}, ["--host", "127.0.0.1", "--port", "0", ...armada, "--log-level", "silent", ...flags]);
  const service = await startJobService(config, pino({ level: "silent" }));
  return { url: `http://127.0.0.1:${service.port}`, stop: () => service.stop() };
}
