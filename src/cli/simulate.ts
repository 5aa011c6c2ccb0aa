import { createLogger } from "../observability/logger.js";
import { parseSimulateArgs, simulateHelp, UsageError } from "../simulator/cli-options.js";
import { startSimulator } from "../simulator/index.js";
import { describeListenFailure } from "./listen-failure.js";

/** `jobservice simulate`: serves a simulated Armada until SIGINT or SIGTERM, then exits 0. */
export async function simulateCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseSimulateArgs(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`jobservice simulate: ${error.message}\nRun "jobservice simulate --help" for the flags.\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(simulateHelp());
    return 0;
  }
  const { config } = parsed;
  // Readable on a terminal, JSON when piped (the tests and scripts read it).
  const logger = createLogger(config.logLevel, process.stdout, "auto");
  const stopped = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });

  let sim;
  try {
    sim = await startSimulator(config);
  } catch (error) {
    const reason = describeListenFailure(error, {
      host: config.host,
      port: config.port,
      portSetting: "ARMADA_SIM_PORT (--port)",
      hostSetting: "ARMADA_SIM_HOST (--host)",
    });
    if (reason === undefined) throw error;
    process.stderr.write(`jobservice simulate: ${reason}\n`);
    return 1;
  }
  logger.info(
    { url: sim.url, seed: config.seed, queues: config.queues, auth: config.credentials ? `${config.credentials.length} credentials` : "off" },
    "Armada simulator listening",
  );
  if (config.bulk) {
    const load = sim.bulkLoad(config.bulk);
    logger.info({ jobs: load.jobs.length, events: load.totalEvents, eventsPerSecond: config.bulk.eventsPerSecond }, "bulk load started");
    void load.done.then(() => logger.info({ events: load.emitted() }, "bulk load finished"));
  }
  const signal = await stopped;
  logger.info({ signal }, "stopping");
  await sim.close();
  logger.info("stopped");
  return 0;
}
