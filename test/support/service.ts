import { pino, type Logger } from "pino";
import type { AuthOptions, AuthTuning } from "../../src/auth/index.js";
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
    shutdownGraceSeconds?: number;
    healthWatchIntervalMs?: number;
    auth?: AuthOptions;
    armadaUrl?: string;
    authTuning?: Partial<AuthTuning>;
    now?: () => number;
    logger?: Logger;
    host?: string;
  } = {},
): Promise<TestService> {
  const store = options.store ?? createMemoryStore({ ttlSeconds: 3600 });
  const service = await startService(
    {
      host: options.host ?? "127.0.0.1",
      port: 0,
      tls: options.tls,
      auth: options.auth,
      armada: options.armadaUrl === undefined ? undefined : { url: options.armadaUrl },
      maxRequestBytes: options.maxRequestBytes ?? 65536,
      shutdownGraceSeconds: options.shutdownGraceSeconds ?? 5,
      healthWatchIntervalMs: options.healthWatchIntervalMs ?? 50,
    },
    { store, logger: options.logger ?? pino({ level: "silent" }), status: options.status, authTuning: options.authTuning, now: options.now },
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
