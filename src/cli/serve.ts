import { ConfigError, loadServeConfig } from "../config/load.js";
import { SETTINGS } from "../config/settings.js";
import { createLogger, redactUrl } from "../observability/logger.js";
import { startService } from "../server/service.js";
import { openStore } from "../store/open.js";

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

  const service = await startService(config, { store, logger });
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await service.stop();
  await store.close();
  logger.info("stopped");
  return 0;
}
