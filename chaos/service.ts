// The whole service in its own process, as `jobservice serve` composes it
// (store, subscriber, one-port server), configured from JSON in argv[2] so a
// chaos scenario can also point it at an Upstash REST gateway on http://.
// Killed with SIGKILL or frozen with SIGSTOP by the runner; logs go to stderr.
import { defaultNumber } from "../src/config/settings.js";
import { createLogger } from "../src/observability/logger.js";
import { createMetricsRegistry } from "../src/observability/metrics.js";
import { startService } from "../src/cli/job-service.js";
import { openStore, type StoreSpec } from "../src/store/open.js";
import { createSubscriber, SUBSCRIBER_DEFAULTS, type SubscriberOptions } from "../src/subscriber/index.js";

export interface ChaosServiceConfig {
  readonly port: number;
  readonly store: StoreSpec;
  readonly armadaUrl: string;
  readonly replicaId: string;
  readonly settings: Partial<SubscriberOptions>;
}

const config = JSON.parse(process.argv[2] ?? "{}") as ChaosServiceConfig;
const logger = createLogger("warn", process.stderr);
const store = openStore(config.store, { ttlSeconds: defaultNumber("job-ttl-seconds"), logger });
const metrics = createMetricsRegistry({ processMetrics: false });
const subscriber = createSubscriber(
  { ...SUBSCRIBER_DEFAULTS, ...config.settings, armadaUrl: config.armadaUrl, credentials: { kind: "none" }, replicaId: config.replicaId },
  { store, logger, metrics },
);
const service = await startService(
  { host: "127.0.0.1", port: config.port, maxRequestBytes: defaultNumber("max-request-bytes"), shutdownGraceSeconds: 1 },
  { store, logger, metrics, status: subscriber },
);
process.stdout.write(`${JSON.stringify({ ready: service.listener.port })}\n`);
const stop = async (): Promise<void> => {
  await service.stop();
  await subscriber.close();
  await store.close();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
