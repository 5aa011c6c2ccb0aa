// The composition root: the one place where the store, the subscriber, the
// Armada connection pool, the caller check, watches, readiness, the status
// page, the Query API, the passthrough and the server are made and wired.
// `startJobService` wires them all from the configuration (`jobservice serve`
// and `demo`); `startService` is its front half, from a store and a status
// source made elsewhere (tests, bench, chaos). src/server/ only receives parts.
import { readFileSync } from "node:fs";
import { Gauge } from "prom-client";
import { storeStatus, type JobStatusSource } from "../answers/answer.js";
import { createArmadaConnections, type ArmadaConnections } from "../armada/connections.js";
import { createAuthorization } from "../armada/credentials.js";
import { createPassthrough, type Passthrough } from "../armada/passthrough.js";
import { createUpstreamJobs } from "../armada/upstream-jobs.js";
import { createCallerAuth, type AuthOptions, type AuthTuning } from "../auth/index.js";
import type { ServeConfig } from "../config/load.js";
import { defaultBoolean, defaultNumber, defaultText } from "../config/settings.js";
import type { Logger } from "../observability/logger.js";
import { createMetricsRegistry, type Registry } from "../observability/metrics.js";
import { redactUrl } from "../observability/redact-url.js";
import { withJobIndex } from "../query/indexing-store.js";
import { jobsService } from "../query/jobs-service.js";
import type { ConnectionLimits } from "../server/limits.js";
import type { Listener } from "../server/listener.js";
import { createReadiness, recordingFailures, type ReadinessCheck } from "../server/readiness.js";
import type { RpcDependencies } from "../server/rpc-routes.js";
import { startServer, type ServerParts } from "../server/server.js";
import { createIdleJobSets } from "../status-page/idle-job-sets.js";
import { createRecentErrors, RECENT_ERRORS_KEPT, type RecentErrors } from "../status-page/recent-errors.js";
import type { ViewerOf } from "../status-page/routes.js";
import { openStore } from "../store/open.js";
import type { JobStore } from "../store/store.js";
import { createSubscriber, type JobSetStatus } from "../subscriber/index.js";
import { createWatchHub } from "../watch/hub.js";
import { withWriteNotices, type WriteNotices } from "../watch/write-notices.js";

/** Deadline of one call to Armada's Query API on a caller's behalf. */
const UPSTREAM_TIMEOUT_MS = 10_000;

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

export interface JobServiceProcess {
  readonly port: number;
  /** Drains calls, stops following Armada and closes the store, in that order. */
  stop(): Promise<void>;
}

/** The caller check, watches, readiness and status page around a store and a status source, and the server in front. */
export async function startService(options: ServiceOptions, deps: ServiceDependencies): Promise<RunningService> {
  const metrics = deps.metrics ?? createMetricsRegistry({ processMetrics: true });
  const errors = deps.errors ?? createRecentErrors(RECENT_ERRORS_KEPT);
  const readiness = recordingFailures(
    createReadiness([{ name: "store", probe: () => deps.store.ping() }, ...(deps.checks ?? [])], { timeoutMs: 2_000, cacheMs: 1_000 }),
    errors,
  );
  const status = deps.status ?? storeStatus(deps.store);
  const tls = options.tls && {
    cert: readFileSync(options.tls.certFile),
    key: readFileSync(options.tls.keyFile),
    clientCa: options.auth?.clientCaFile ? readFileSync(options.auth.clientCaFile) : undefined,
  };
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
    pollMs: options.watchPollMs ?? defaultNumber("watch-poll-ms"),
    maxWatches: options.maxWatches ?? defaultNumber("max-watches"),
  });
  new Gauge({
    name: "jobservice_watches_open",
    help: "WatchJobStatus and WatchJobSet streams open now.",
    registers: [metrics],
    collect() {
      this.set(watches.active());
    },
  });
  const statusPage: ServerParts["statusPage"] = {
    jobSets: deps.jobSets ?? (() => []),
    forgetIdle: deps.forgetIdle,
    store: deps.store,
    readiness,
    metrics,
    errors,
    viewer: deps.statusViewer ?? (auth && ((request) => auth.statusViewer(request.headers.get("authorization"), deps.jobSets?.() ?? []))),
    intervalMs: options.statusPageIntervalMs ?? defaultNumber("status-page-interval-ms"),
  };
  const server = await startServer(
    { status, auth, watches, readiness, metrics, statusPage, jobs: deps.jobs, passthrough: deps.passthrough },
    {
      host: options.host,
      port: options.port,
      tls,
      limits: options.limits,
      maxRequestBytes: options.maxRequestBytes,
      fastPath: options.fastPath ?? defaultBoolean("fast-path"),
      maxBatchIds: options.maxBatchIds ?? defaultNumber("max-batch-ids"),
      healthWatchIntervalMs: options.healthWatchIntervalMs ?? 5_000,
    },
  ).catch((error: unknown) => {
    auth?.close();
    throw error;
  });
  const { listener } = server;
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
      await server.stop(options.shutdownGraceSeconds * 1000);
      auth?.close();
      watches.close();
    },
  };
}
/** The whole service from its configuration: store, subscriber, and the one-port server in front. */
export async function startJobService(config: ServeConfig, logger: Logger): Promise<JobServiceProcess> {
  const opened = openStore(config.store, { ttlSeconds: config.jobTtlSeconds, logger, replicaAck: config.replicaAck });
  const indexed = withJobIndex(opened, (error) =>
    logger.warn({ err: { message: error instanceof Error ? error.message : String(error) } }, "job-id index write failed"),
  );
  const { store, notices } = withWriteNotices(indexed);
  logger.info({ store: config.store.kind === "memory" ? "memory" : redactUrl(config.store.url) }, "store selected");

  const metrics = createMetricsRegistry({ processMetrics: true });
  const errors = createRecentErrors(RECENT_ERRORS_KEPT);
  const idle = createIdleJobSets({ max: config.subscriber.maxSubscriptions, ttlMs: config.jobTtlSeconds * 1000 });
  // One pool for the service's own calls to Armada: the event streams and the Query API read-through.
  const connections = createArmadaConnections({
    url: config.subscriber.armadaUrl,
    caFile: config.subscriber.caFile,
    maxConnections: config.subscriber.maxConnections,
    maxStreamsPerConnection: config.subscriber.maxStreamsPerConnection,
    keepaliveIntervalMs: config.subscriber.keepaliveIntervalMs,
    keepaliveTimeoutMs: config.subscriber.keepaliveTimeoutMs,
  });
  // One identity toward Armada for the event streams and the read-through: one token cache, one token fetch.
  const authorization = createAuthorization(config.subscriber.credentials, { now: Date.now });
  const subscriber = createSubscriber(config.subscriber, {
    store,
    logger,
    metrics,
    connections,
    authorization,
    onStreamFailure: (jobSet, failure) => errors.record({ source: "armada", message: failure.text, ...jobSet }),
    onExpired: (jobSet) => idle.remember(jobSet),
  });
  const armadaUrl = redactUrl(config.subscriber.armadaUrl);
  logger.info({ armada: armadaUrl, auth: config.subscriber.credentials.kind, replica: config.subscriber.replicaId }, "following Armada");
  const armada = {
    name: "armada",
    probe: async (signal: AbortSignal) => {
      if (!(await subscriber.armadaHealthy(signal))) throw new Error(`Armada at ${armadaUrl} is not serving`);
    },
  };

  const upstream = createUpstreamJobs({
    url: config.subscriber.armadaUrl,
    caFile: config.subscriber.caFile,
    authorization,
    connections,
  });
  const jobs = jobsService({ store, status: subscriber, upstream, upstreamTimeoutMs: UPSTREAM_TIMEOUT_MS });
  const passthrough = config.armadaPassthrough
    ? createPassthrough({
        url: config.subscriber.armadaUrl,
        caFile: config.subscriber.caFile,
        // A submit that passed through is followed at once, so the first poll of its jobs is answered here.
        onSubmitted: ({ jobSet, jobIds, externalJobUris }) => {
          void store.indexJobs?.(jobSet, jobIds).catch(() => undefined);
          if (externalJobUris.size > 0) void store.indexExternalJobUris?.(jobSet, externalJobUris).catch(() => undefined);
          void subscriber.lookup(jobSet, [], { signal: AbortSignal.timeout(60_000) }).catch(() => undefined);
        },
      })
    : undefined;
  const service = await startService(
    { ...config, armada: { url: config.subscriber.armadaUrl, caFile: config.subscriber.caFile, connections } },
    {
      store,
      logger,
      metrics,
      status: subscriber,
      checks: [armada],
      jobSets: () => idle.withIdle(subscriber.jobSets()),
      forgetIdle: (jobSet) => idle.forget(jobSet),
      errors,
      notices,
      jobs,
      passthrough,
    },
  ).catch(async (error: unknown) => {
    // Nothing was served: let go of what was opened for it, so a caller that goes on (the demo, tests) leaks nothing.
    passthrough?.close();
    await subscriber.close();
    connections.close();
    await store.close();
    throw error;
  });
  return {
    port: service.listener.port,
    async stop() {
      await service.stop();
      passthrough?.close();
      await subscriber.close();
      connections.close();
      await store.close();
    },
  };
}

/** Whether only this machine can reach the address. */
function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host) || /^::ffff:127\./.test(host);
}
