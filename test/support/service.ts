import { pino } from "pino";
import type { ConnectionLimits } from "../../src/server/limits.js";
import { startService, type RunningService } from "../../src/server/service.js";
import type { JobStatusSource } from "../../src/status/answer.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { JobStore } from "../../src/store/store.js";

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
  } = {},
): Promise<TestService> {
  const store = options.store ?? createMemoryStore({ ttlSeconds: 3600 });
  const service = await startService(
    {
      host: "127.0.0.1",
      port: 0,
      tls: options.tls,
      maxRequestBytes: options.maxRequestBytes ?? 65536,
      limits: options.limits,
      shutdownGraceSeconds: options.shutdownGraceSeconds ?? 5,
      healthWatchIntervalMs: options.healthWatchIntervalMs ?? 50,
    },
    { store, logger: pino({ level: "silent" }), status: options.status },
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
