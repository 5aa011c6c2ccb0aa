import { pino } from "pino";
import { startService, type RunningService } from "../../src/server/service.js";
import type { JobStatusSource } from "../../src/status/answer.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { JobStore } from "../../src/store/store.js";
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
    shutdownGraceSeconds?: number;
    healthWatchIntervalMs?: number;
    maxBatchIds?: number;
    maxWatches?: number;
    watchPollMs?: number;
  } = {},
): Promise<TestService> {
  // Writes through `store` reach watchers at once, as the subscriber's do.
  const { store, notices } = withWriteNotices(options.store ?? createMemoryStore({ ttlSeconds: 3600 }));
  const service = await startService(
    {
      host: "127.0.0.1",
      port: 0,
      tls: options.tls,
      maxRequestBytes: options.maxRequestBytes ?? 65536,
      shutdownGraceSeconds: options.shutdownGraceSeconds ?? 5,
      healthWatchIntervalMs: options.healthWatchIntervalMs ?? 50,
      maxBatchIds: options.maxBatchIds,
      maxWatches: options.maxWatches,
      watchPollMs: options.watchPollMs,
    },
    { store, logger: pino({ level: "silent" }), status: options.status, notices },
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
