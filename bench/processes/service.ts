// The service under test, alone in its process: the real one-port listener,
// answering GetJobStatus either through the subscriber and a store (as
// `jobservice serve` does) or with a constant (the empty-handler baseline).
import { pino } from "pino";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { AUTH_DEFAULTS } from "../../src/auth/index.js";
import { defaultNumber } from "../../src/config/settings.js";
import { createMetricsRegistry } from "../../src/observability/metrics.js";
import { startService } from "../../src/cli/job-service.js";
import type { JobStatusSource } from "../../src/answers/answer.js";
import { openStore } from "../../src/store/open.js";
import { createSubscriber, SUBSCRIBER_DEFAULTS, type Subscriber } from "../../src/subscriber/index.js";
import { processOptions, serveCommands } from "../lib/serve-commands.js";
import type { StoreChoice } from "./protocol.js";

export interface ServiceProcessOptions {
  /** "empty": every call answers RUNNING without touching a store or a subscription. */
  readonly answer: "subscriber" | "empty";
  readonly store: StoreChoice;
  readonly armadaUrl: string;
  /** "armada": callers are checked with Armada (JOBSERVICE_AUTH=armada), decisions cached. */
  readonly auth?: "armada";
}

const options = processOptions<ServiceProcessOptions>();
const logger = pino({ level: "silent" });
const metrics = createMetricsRegistry({ processMetrics: true });
const store = openStore(options.store, { ttlSeconds: defaultNumber("job-ttl-seconds"), logger });
let subscriber: Subscriber | undefined;
let status: JobStatusSource;
if (options.answer === "subscriber") {
  subscriber = createSubscriber(
    { ...SUBSCRIBER_DEFAULTS, armadaUrl: options.armadaUrl, credentials: { kind: "none" }, replicaId: `bench-${process.pid}` },
    { store, logger, metrics },
  );
  status = subscriber;
} else {
  // The handler floor: every job RUNNING, no store.
  const running = { state: State.RUNNING, error: "", lastEvent: "running", messageId: "1", runAttempts: 1 };
  status = {
    status: async () => ({ state: State.RUNNING, error: "" }),
    lookup: async (_jobSet, jobIds = []) => ({ jobs: new Map(jobIds.map((id) => [id, running])) }),
  };
}
const service = await startService(
  {
    host: "127.0.0.1",
    port: 0,
    maxRequestBytes: defaultNumber("max-request-bytes"),
    shutdownGraceSeconds: 1,
    auth: options.auth === "armada" ? { ...AUTH_DEFAULTS, mode: "armada" } : undefined,
    armada: { url: options.armadaUrl },
  },
  { store, logger, metrics, status },
);

serveCommands(
  { port: service.listener.port },
  {
    async memory() {
      return process.memoryUsage();
    },
  },
  async () => {
    await service.stop();
    await subscriber?.close();
    await store.close();
  },
);
