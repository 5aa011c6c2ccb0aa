import { readFileSync } from "node:fs";
import type { Logger } from "../observability/logger.js";
import { createMetricsRegistry, type Registry } from "../observability/metrics.js";
import { answerFor, type JobStatusSource } from "../status/answer.js";
import type { JobStore } from "../store/store.js";
import { createRequestHandler } from "./handler.js";
import type { ConnectionLimits } from "./limits.js";
import { listen, type Listener } from "./listener.js";
import { createReadiness, type ReadinessCheck } from "./readiness.js";

export interface ServiceOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly maxRequestBytes: number;
  /** Connection, header, stream and idle bounds; the listener's defaults when absent. */
  readonly limits?: ConnectionLimits;
  readonly shutdownGraceSeconds: number;
  readonly healthWatchIntervalMs?: number;
}

export interface ServiceDependencies {
  readonly store: JobStore;
  readonly logger: Logger;
  readonly metrics?: Registry;
  /** Answers GetJobStatus; the store alone answers when absent. */
  readonly status?: JobStatusSource;
  /** Further readiness checks beside the store's (e.g. Armada's health). */
  readonly checks?: readonly ReadinessCheck[];
}

export interface RunningService {
  readonly listener: Listener;
  readonly metrics: Registry;
  /** Graceful stop: drains calls within the grace period. Closing the store is the caller's. */
  stop(): Promise<void>;
}

/** The status source that only reads what the store already holds. */
export function storeStatus(store: JobStore): JobStatusSource {
  return { status: async (key) => answerFor(await store.read(key)) };
}

export async function startService(options: ServiceOptions, deps: ServiceDependencies): Promise<RunningService> {
  const metrics = deps.metrics ?? createMetricsRegistry({ processMetrics: true });
  const readiness = createReadiness(
    [{ name: "store", probe: () => deps.store.ping() }, ...(deps.checks ?? [])],
    { timeoutMs: 2_000, cacheMs: 1_000 },
  );
  const shutdown = new AbortController();
  const handler = createRequestHandler({
    status: deps.status ?? storeStatus(deps.store),
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
    limits: options.limits,
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
    },
  };
}
