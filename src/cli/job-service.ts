import type { ServeConfig } from "../config/load.js";
import type { Logger } from "../observability/logger.js";
import { redactUrl } from "../observability/redact-url.js";
import { createMetricsRegistry } from "../observability/metrics.js";
import { startService } from "../server/service.js";
import { createIdleJobSets } from "../status-page/idle-job-sets.js";
import { createRecentErrors, RECENT_ERRORS_KEPT } from "../status-page/recent-errors.js";
import { createArmadaConnections } from "../armada/connections.js";
import { createPassthrough } from "../armada/passthrough.js";
import { createUpstreamJobs } from "../armada/upstream-jobs.js";
import { withJobIndex } from "../query/indexing-store.js";
import { jobsService } from "../query/jobs-service.js";
import { createAuthorization } from "../armada/credentials.js";
import { openStore } from "../store/open.js";
import { createSubscriber } from "../subscriber/index.js";
import { withWriteNotices } from "../watch/write-notices.js";

/** Deadline of one call to Armada's Query API on a caller's behalf. */
const UPSTREAM_TIMEOUT_MS = 10_000;

export interface JobServiceProcess {
  readonly port: number;
  /** Drains calls, stops following Armada and closes the store, in that order. */
  stop(): Promise<void>;
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
