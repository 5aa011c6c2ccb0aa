import type { JobStatusSource } from "../answers/answer.js";
import type { Passthrough } from "../armada/passthrough.js";
import type { CallerAuth } from "../auth/index.js";
import type { Registry } from "../observability/metrics.js";
import type { StatusPageDeps } from "../status-page/routes.js";
import type { WatchHub } from "../watch/hub.js";
import { createRequestHandler } from "./handler.js";
import type { ConnectionLimits } from "./limits.js";
import { listen, type Listener, type TlsFiles } from "./listener.js";
import type { Readiness } from "./readiness.js";
import type { RpcDependencies } from "./rpc-routes.js";

/**
 * What the server answers with, made by the composition root
 * (src/cli/job-service.ts), which also closes them: the server only routes
 * calls to them.
 */
export interface ServerParts {
  readonly status: JobStatusSource;
  readonly watches: WatchHub;
  readonly readiness: () => Promise<Readiness>;
  readonly metrics: Registry;
  /** The status page's sources; the server adds the signal that ends its live streams at shutdown. */
  readonly statusPage: Omit<StatusPageDeps, "shutdownSignal">;
  /** The caller check; every call is let through when absent. */
  readonly auth?: CallerAuth;
  /** Armada's Query API (api.Jobs), when the service answers it. */
  readonly jobs?: RpcDependencies["jobs"];
  /** Armada's other methods, passed through (JOBSERVICE_ARMADA_PASSTHROUGH). */
  readonly passthrough?: Passthrough;
}

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsFiles;
  /** Connection, header, stream and idle bounds; the listener's defaults when absent. */
  readonly limits?: ConnectionLimits;
  readonly maxRequestBytes: number;
  /** Serve the hot unary RPCs' plain forms without connect's pipeline. */
  readonly fastPath: boolean;
  /** Most job ids per GetJobStatuses call. */
  readonly maxBatchIds: number;
  /** How often grpc.health.v1 Watch re-checks readiness. */
  readonly healthWatchIntervalMs: number;
}

export interface Server {
  readonly listener: Listener;
  /** Ends watches and live status pages, then drains calls for up to `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

/** Every protocol on one port, answered by ready-made parts. */
export async function startServer(parts: ServerParts, options: ServerOptions): Promise<Server> {
  const shutdown = new AbortController();
  const handler = createRequestHandler({
    status: parts.status,
    auth: parts.auth,
    watches: parts.watches,
    maxBatchIds: options.maxBatchIds,
    readiness: parts.readiness,
    metrics: parts.metrics,
    maxRequestBytes: options.maxRequestBytes,
    fastPath: options.fastPath,
    shutdownSignal: shutdown.signal,
    jobs: parts.jobs,
    passthrough: parts.passthrough,
    healthWatchIntervalMs: options.healthWatchIntervalMs,
    statusPage: { ...parts.statusPage, shutdownSignal: shutdown.signal },
  });
  const listener = await listen({ host: options.host, port: options.port, handler, limits: options.limits, tls: options.tls });
  return {
    listener,
    async stop(graceMs) {
      shutdown.abort();
      await listener.close(graceMs);
    },
  };
}
