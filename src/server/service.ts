import { readFileSync } from "node:fs";
import { Gauge } from "prom-client";
import type { Logger } from "../observability/logger.js";
import { createMetricsRegistry, type Registry } from "../observability/metrics.js";
import { answerFor, type JobStatusSource } from "../status/answer.js";
import type { JobStore } from "../store/store.js";
import { createWatchHub } from "../watch/hub.js";
import type { WriteNotices } from "../watch/write-notices.js";
import { createRequestHandler } from "./handler.js";
import { listen, type Listener } from "./listener.js";
import { createReadiness, type ReadinessCheck } from "./readiness.js";

export interface ServiceOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly maxRequestBytes: number;
  readonly shutdownGraceSeconds: number;
  readonly healthWatchIntervalMs?: number;
  /** Most job ids per GetJobStatuses call (default 1000). */
  readonly maxBatchIds?: number;
  /** Most WatchJobStatus and WatchJobSet streams open at once (default 20000). */
  readonly maxWatches?: number;
  /** How often watched job sets are read for changes other replicas wrote (default 1000 ms). */
  readonly watchPollMs?: number;
}

export interface ServiceDependencies {
  readonly store: JobStore;
  readonly logger: Logger;
  readonly metrics?: Registry;
  /** Answers GetJobStatus; the store alone answers when absent. */
  readonly status?: JobStatusSource;
  /** Further readiness checks beside the store's (e.g. Armada's health). */
  readonly checks?: readonly ReadinessCheck[];
  /** Writes through this process's store, so its watchers hear of them without polling. */
  readonly notices?: WriteNotices;
}

export interface RunningService {
  readonly listener: Listener;
  readonly metrics: Registry;
  /** Graceful stop: drains calls within the grace period. Closing the store is the caller's. */
  stop(): Promise<void>;
}

/** As in the settings table (src/config/settings.ts). */
const WATCH_DEFAULTS = { pollMs: 1_000, maxWatches: 20_000, maxBatchIds: 1_000 } as const;

/** The status source that only reads what the store already holds. */
export function storeStatus(store: JobStore): JobStatusSource {
  return {
    status: async (key) => answerFor(await store.read(key)),
    lookup: (jobSet, jobIds) => store.readJobSet(jobSet, jobIds),
  };
}

export async function startService(options: ServiceOptions, deps: ServiceDependencies): Promise<RunningService> {
  const metrics = deps.metrics ?? createMetricsRegistry({ processMetrics: true });
  const readiness = createReadiness(
    [{ name: "store", probe: () => deps.store.ping() }, ...(deps.checks ?? [])],
    { timeoutMs: 2_000, cacheMs: 1_000 },
  );
  const shutdown = new AbortController();
  const status = deps.status ?? storeStatus(deps.store);
  const watches = createWatchHub({
    source: status,
    notices: deps.notices,
    pollMs: options.watchPollMs ?? WATCH_DEFAULTS.pollMs,
    maxWatches: options.maxWatches ?? WATCH_DEFAULTS.maxWatches,
  });
  new Gauge({
    name: "jobservice_watches_open",
    help: "WatchJobStatus and WatchJobSet streams open now.",
    registers: [metrics],
    collect() {
      this.set(watches.active());
    },
  });
  const handler = createRequestHandler({
    status,
    watches,
    maxBatchIds: options.maxBatchIds ?? WATCH_DEFAULTS.maxBatchIds,
    readiness,
    metrics,
    maxRequestBytes: options.maxRequestBytes,
    shutdownSignal: shutdown.signal,
    healthWatchIntervalMs: options.healthWatchIntervalMs ?? 5_000,
  });
  const listener = await listen({
    host: options.host,
    port: options.port,
    handler,
    tls: options.tls && { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) },
  });
  deps.logger.info({ host: listener.host, port: listener.port, tls: Boolean(options.tls) }, "listening");
  return {
    listener,
    metrics,
    async stop() {
      deps.logger.info({ graceSeconds: options.shutdownGraceSeconds }, "shutting down");
      shutdown.abort();
      await listener.close(options.shutdownGraceSeconds * 1000);
      watches.close();
    },
  };
}
