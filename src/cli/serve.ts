import { ConfigError, loadServeConfig, type ServeConfig } from "../config/load.js";
import { SETTINGS } from "../config/settings.js";
import { createLogger } from "../observability/logger.js";
import { startJobService, type JobServiceProcess } from "./job-service.js";
import { describeListenFailure } from "./listen-failure.js";

export function serveHelp(): string {
  const rows = SETTINGS.map((s) => `  --${s.flag.padEnd(28)} ${s.env}${s.default ? ` (default ${s.default})` : ""}\n      ${s.description}`);
  return `Usage: jobservice serve [flags]\n\nRuns the Job Service. Every flag can also be set by its environment variable; flags win.\n\n${rows.join("\n")}\n`;
}

/** The configuration, or undefined after printing every problem in it. */
function configOrReport(argv: readonly string[]): ServeConfig | undefined {
  try {
    return loadServeConfig(process.env, argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`jobservice: ${error.message}\n`);
    return undefined;
  }
}

/** `jobservice serve`: runs until SIGTERM or SIGINT, then drains and exits 0. */
export async function serveCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(serveHelp());
    return 0;
  }
  const config = configOrReport(argv);
  if (!config) return 2;
  const logger = createLogger(config.logLevel, process.stdout, config.logFormat);
  // Listen for the stop signal before "listening" is logged: a supervisor may send it as soon as it sees that line.
  const stopRequested = new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  let service: JobServiceProcess;
  try {
    service = await startJobService(config, logger);
  } catch (error) {
    const reason = describeListenFailure(error, {
      host: config.host,
      port: config.port,
      portSetting: "JOBSERVICE_PORT (--port)",
      hostSetting: "JOBSERVICE_HOST (--host)",
    });
    if (reason === undefined) throw error;
    process.stderr.write(`jobservice: ${reason}\n`);
    return 1;
  }
  await stopRequested;
  logger.info({ graceSeconds: config.shutdownGraceSeconds }, "signal received");
  await service.stop();
  logger.info("stopped");
  return 0;
}
