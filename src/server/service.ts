import { readFileSync } from "node:fs";
import { createCallerAuth, type AuthOptions, type AuthTuning } from "../auth/index.js";
import { Gauge } from "prom-client";
import { defaultBoolean, defaultNumber, defaultText } from "../config/settings.js";
import type { Logger } from "../observability/logger.js";
import { createMetricsRegistry, type Registry } from "../observability/metrics.js";
import { answerFor, lookUp, lookUpJobSet, type JobStatusSource } from "../answers/answer.js";
import { createRecentErrors, RECENT_ERRORS_KEPT, type RecentErrors } from "../status-page/recent-errors.js";
import type { ViewerOf } from "../status-page/routes.js";
import type { JobStore, JobStoreReader } from "../store/store.js";
import type { JobSetStatus } from "../subscriber/index.js";
import { createWatchHub } from "../watch/hub.js";
import type { WriteNotices } from "../watch/write-notices.js";
import { createRequestHandler } from "./handler.js";
import type { ConnectionLimits } from "./limits.js";
import { listen, type Listener } from "./listener.js";
import { createReadiness, type Readiness, type ReadinessCheck } from "./readiness.js";
import type { RpcDependencies } from "./rpc-routes.js";
import type { ArmadaConnections } from "../armada/connections.js";
import type { Passthrough } from "../armada/passthrough.js";

export interface ServiceOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly maxRequestBytes: number;
  /** Serve the hot unary RPCs' plain forms without connect's pipeline; on unless false. */
  readonly fastPath?: boolean;
  /** How callers prove who they are; JOBSERVICE_AUTH=none when absent. */
  readonly auth?: AuthOptions;
  /** Where the armada mode asks; the subscriber's Armada, and its connection pool when the caller has one. */
  readonly armada?: { readonly url: string; readonly caFile?: string; readonly connections?: ArmadaConnections };
  /** Connection, header, stream and idle bounds; the listener's defaults when absent. */
  readonly limits?: ConnectionLimits;
  readonly shutdownGraceSeconds: number;
  readonly healthWatchIntervalMs?: number;
  /** How often the status page's live view is refreshed; 1 s when absent. */
  readonly statusPageIntervalMs?: number;
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
  /** The job sets the status page lists (the subscriber's); none when absent. */
  readonly jobSets?: () => Iterable<JobSetStatus>;
  /** Told of an idle job set the status page found gone from the store. */
  readonly forgetIdle?: (jobSet: JobSetStatus) => void;
  /** Recent errors the status page lists; failing readiness checks are added to it. */
  readonly errors?: RecentErrors;
  /** What each status page viewer may see; everything when absent. */
  readonly statusViewer?: ViewerOf;
  readonly now?: () => number;
  /** Shorter timings for tests of the caller check. */
  readonly authTuning?: Partial<AuthTuning>;
  /** Writes through this process's store, so its watchers hear of them without polling. */
  readonly notices?: WriteNotices;
  /** Armada's Query API (api.Jobs), when the service answers it. */
  readonly jobs?: RpcDependencies["jobs"];
  /** Armada's other methods, passed through (JOBSERVICE_ARMADA_PASSTHROUGH). */
  readonly passthrough?: Passthrough;
}

export interface RunningService {
  readonly listener: Listener;
  readonly metrics: Registry;
  /** Graceful stop: drains calls within the grace period. Closing the store is the caller's. */
  stop(): Promise<void>;
}

/** For library callers, from the settings table. */
const WATCH_DEFAULTS = {
  pollMs: defaultNumber("watch-poll-ms"),
  maxWatches: defaultNumber("max-watches"),
  maxBatchIds: defaultNumber("max-batch-ids"),
} as const;

/** The status source that only reads what the store already holds. */
export function storeStatus(store: JobStoreReader): JobStatusSource {
  return {
    status: async (key) => answerFor(await lookUp(store, key)),
    lookup: (jobSet, jobIds) => lookUpJobSet(store, jobSet, jobIds),
  };
}

/** Records each failing check once per round of probes, not once per caller that shares the round. */
function recordingFailures(readiness: () => Promise<Readiness>, errors: RecentErrors): () => Promise<Readiness> {
  let recorded: Promise<Readiness> | undefined;
  return () => {
    const result = readiness();
    if (result !== recorded) {
      recorded = result;
      void result.then((round) => {
        for (const [name, check] of Object.entries(round.checks)) if (!check.ok) errors.record({ source: name, message: check.error ?? "not ready" });
      });
    }
    return result;
  };
}

export async function startService(options: ServiceOptions, deps: ServiceDependencies): Promise<RunningService> {
  const metrics = deps.metrics ?? createMetricsRegistry({ processMetrics: true });
  const errors = deps.errors ?? createRecentErrors(RECENT_ERRORS_KEPT);
  const readiness = recordingFailures(
    createReadiness([{ name: "store", probe: () => deps.store.ping() }, ...(deps.checks ?? [])], { timeoutMs: 2_000, cacheMs: 1_000 }),
    errors,
  );
  const shutdown = new AbortController();
  const status = deps.status ?? storeStatus(deps.store);
  const auth =
    options.auth &&
    createCallerAuth(options.auth, {
      armadaUrl: options.armada?.url ?? defaultText("armada-url"),
      armadaCaFile: options.armada?.caFile,
      armadaConnections: options.armada?.connections,
      store: deps.store,
      logger: deps.logger,
      metrics,
      follows: status.follows && ((target) => status.follows?.(target) ?? false),
      now: deps.now,
      tuning: deps.authTuning,
    });
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
    auth,
    watches,
    maxBatchIds: options.maxBatchIds ?? WATCH_DEFAULTS.maxBatchIds,
    readiness,
    metrics,
    maxRequestBytes: options.maxRequestBytes,
    fastPath: options.fastPath ?? defaultBoolean("fast-path"),
    shutdownSignal: shutdown.signal,
    jobs: deps.jobs,
    passthrough: deps.passthrough,
    healthWatchIntervalMs: options.healthWatchIntervalMs ?? 5_000,
    statusPage: {
      jobSets: deps.jobSets ?? (() => []),
      forgetIdle: deps.forgetIdle,
      store: deps.store,
      readiness,
      metrics,
      errors,
      viewer: deps.statusViewer ?? (auth && ((request) => auth.statusViewer(request.headers.get("authorization"), deps.jobSets?.() ?? []))),
      intervalMs: options.statusPageIntervalMs ?? defaultNumber("status-page-interval-ms"),
      shutdownSignal: shutdown.signal,
    },
  });
  const listener = await listen({
    host: options.host,
    port: options.port,
    handler,
    limits: options.limits,
    tls: options.tls && {
      cert: readFileSync(options.tls.certFile),
      key: readFileSync(options.tls.keyFile),
      clientCa: options.auth?.clientCaFile ? readFileSync(options.auth.clientCaFile) : undefined,
    },
  }).catch((error: unknown) => {
    auth?.close();
    throw error;
  });
  const mode = options.auth?.mode ?? "none";
  deps.logger.info(
    { host: listener.host, port: listener.port, tls: Boolean(options.tls), auth: mode, clientCertificates: Boolean(options.auth?.clientCaFile) },
    "listening",
  );
  if (mode === "none" && !isLoopback(listener.host)) {
    deps.logger.warn(
      { host: listener.host, port: listener.port },
      "JOBSERVICE_AUTH is none and the listener is reachable beyond loopback: anyone who can connect reads every queue's jobs under the service's Armada identity; set JOBSERVICE_AUTH=armada (or oidc, basic)",
    );
  }
  return {
    listener,
    metrics,
    async stop() {
      deps.logger.info({ graceSeconds: options.shutdownGraceSeconds }, "shutting down");
      shutdown.abort();
      await listener.close(options.shutdownGraceSeconds * 1000);
      auth?.close();
      watches.close();
    },
  };
}

/** Whether only this machine can reach the address. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host) || /^::ffff:127\./.test(host);
}
