import { ConfigError, loadServeConfig } from "../config/load.js";
import { SETTINGS } from "../config/settings.js";
import { createLogger, redactUrl } from "../observability/logger.js";
import { startService } from "../server/service.js";
import { createMetricsRegistry } from "../observability/metrics.js";
import { openStore } from "../store/open.js";
import { createSubscriber } from "../subscriber/index.js";

export function serveHelp(): string {
  const rows = SETTINGS.map((s) => `  --${s.flag.padEnd(24)} ${s.env}${s.default ? ` (default ${s.default})` : ""}\n      ${s.description}`);
  return `Usage: jobservice serve [flags]\n\nRuns the Job Service. Every flag can also be set by its environment variable; flags win.\n\n${rows.join("\n")}\n`;
}

/** `jobservice serve`: runs until SIGTERM or SIGINT, then drains and exits 0. */
export async function serveCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(serveHelp());
    return 0;
  }
  let config;
  try {
    config = loadServeConfig(process.env, argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`jobservice: ${error.message}\n`);
    return 2;
  }
  const logger = createLogger(config.logLevel);
  const store = openStore(config.store, { ttlSeconds: config.jobTtlSeconds, logger });
  logger.info({ store: config.store.kind === "memory" ? "memory" : redactUrl(config.store.url) }, "store selected");

  const metrics = createMetricsRegistry({ processMetrics: true });
  const subscriber = createSubscriber(config.subscriber, { store, logger, metrics });
  logger.info({ armada: redactUrl(config.subscriber.armadaUrl), auth: config.subscriber.credentials.kind, replica: config.subscriber.replicaId }, "following Armada");
  const armada = {
    name: "armada",
    probe: async (signal: AbortSignal) => {
      if (!(await subscriber.armadaHealthy(signal))) throw new Error(`Armada at ${redactUrl(config.subscriber.armadaUrl)} is not serving`);
    },
  };
  const service = await startService(config, { store, logger, metrics, status: subscriber, checks: [armada] });
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await service.stop();
  await subscriber.close();
  await store.close();
  logger.info("stopped");
  return 0;
}
