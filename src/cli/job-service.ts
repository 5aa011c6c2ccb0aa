import type { ServeConfig } from "../config/load.js";
import type { Logger } from "../observability/logger.js";
import { redactUrl } from "../observability/redact-url.js";
import { createMetricsRegistry } from "../observability/metrics.js";
import { startService } from "../server/service.js";
import { createRecentErrors, RECENT_ERRORS_KEPT } from "../status-page/recent-errors.js";
import { openStore } from "../store/open.js";
import { createSubscriber } from "../subscriber/index.js";
import { withWriteNotices } from "../watch/write-notices.js";

export interface JobServiceProcess {
  readonly port: number;
  /** Drains calls, stops following Armada and closes the store, in that order. */
  stop(): Promise<void>;
}

/** The whole service from its configuration: store, subscriber, and the one-port server in front. */
export async function startJobService(config: ServeConfig, logger: Logger): Promise<JobServiceProcess> {
  const { store, notices } = withWriteNotices(openStore(config.store, { ttlSeconds: config.jobTtlSeconds, logger, replicaAck: config.replicaAck }));
  logger.info({ store: config.store.kind === "memory" ? "memory" : redactUrl(config.store.url) }, "store selected");

  const metrics = createMetricsRegistry({ processMetrics: true });
  const errors = createRecentErrors(RECENT_ERRORS_KEPT);
  const subscriber = createSubscriber(config.subscriber, {
    store,
    logger,
    metrics,
    onStreamFailure: (jobSet, failure) => errors.record({ source: "armada", message: failure.text, ...jobSet }),
  });
  const armadaUrl = redactUrl(config.subscriber.armadaUrl);
  logger.info({ armada: armadaUrl, auth: config.subscriber.credentials.kind, replica: config.subscriber.replicaId }, "following Armada");
  const armada = {
    name: "armada",
    probe: async (signal: AbortSignal) => {
      if (!(await subscriber.armadaHealthy(signal))) throw new Error(`Armada at ${armadaUrl} is not serving`);
    },
  };

  const service = await startService(
    { ...config, armada: { url: config.subscriber.armadaUrl, caFile: config.subscriber.caFile } },
    { store, logger, metrics, status: subscriber, checks: [armada], jobSets: () => subscriber.jobSets(), errors, notices },
  );
  return {
    port: service.listener.port,
    async stop() {
      await service.stop();
      await subscriber.close();
      await store.close();
    },
  };
}
