// The whole service in its own process, composed by the same root as
// `jobservice serve` (store with its job-id index, subscriber, Query API,
// one-port server), configured from JSON in argv[2] so a chaos scenario can
// also point it at an Upstash REST gateway on http:// (which the command
// line refuses). Killed with SIGKILL or frozen with SIGSTOP by the runner;
// logs go to stderr.
import { startJobService } from "../src/cli/job-service.js";
import { loadServeConfig } from "../src/config/load.js";
import { createLogger } from "../src/observability/logger.js";
import type { StoreSpec } from "../src/store/open.js";
import type { SubscriberOptions } from "../src/subscriber/index.js";

export interface ChaosServiceConfig {
  readonly port: number;
  readonly store: StoreSpec;
  readonly armadaUrl: string;
  readonly replicaId: string;
  readonly settings: Partial<SubscriberOptions>;
}

const chaos = JSON.parse(process.argv[2] ?? "{}") as ChaosServiceConfig;
const logger = createLogger("warn", process.stderr);
const defaults = loadServeConfig({}, ["--host", "127.0.0.1", "--port", String(chaos.port), "--armada-url", chaos.armadaUrl]);
const service = await startJobService(
  {
    ...defaults,
    store: chaos.store,
    shutdownGraceSeconds: 1,
    subscriber: { ...defaults.subscriber, ...chaos.settings, armadaUrl: chaos.armadaUrl, credentials: { kind: "none" }, replicaId: chaos.replicaId },
  },
  logger,
);
process.stdout.write(`${JSON.stringify({ ready: service.port })}\n`);
const stop = async (): Promise<void> => {
  await service.stop();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
