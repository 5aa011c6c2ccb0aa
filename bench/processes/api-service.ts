// The service under test for the newer RPCs, alone in its process: the real
// subscriber, store and one-port listener (as `jobservice serve` runs them),
// with a count of the store calls its answers make.
import { pino } from "pino";
import { createMetricsRegistry } from "../../src/observability/metrics.js";
import { DEFAULT_LIMITS } from "../../src/server/limits.js";
import { startService } from "../../src/cli/job-service.js";
import { openStore } from "../../src/store/open.js";
import type { JobSetKey, JobStore } from "../../src/store/store.js";
import { createSubscriber, SUBSCRIBER_DEFAULTS } from "../../src/subscriber/index.js";
import { withWriteNotices } from "../../src/watch/write-notices.js";
import { defaultNumber } from "../../src/config/settings.js";
import { processOptions, serveCommands } from "../lib/serve-commands.js";
import type { StoreChoice } from "./protocol.js";

export interface ApiServiceOptions {
  readonly store: StoreChoice;
  readonly armadaUrl: string;
  readonly maxWatches: number;
}

/** Store calls by kind; each is one round trip to the store by the JobStore contract. */
export interface StoreCalls {
  readonly read: number;
  readonly readJobs: number;
  readonly readJobSet: number;
  readonly write: number;
}

function counted(store: JobStore, calls: Record<keyof StoreCalls, number>): JobStore {
  return {
    ...store,
    read: (key) => (calls.read++, store.read(key)),
    // Counted with `read`: progress was read through it (with an empty job id) when these figures began.
    readProgress: (jobSet) => (calls.read++, store.readProgress(jobSet)),
    readJobs: (jobSet, ids) => (calls.readJobs++, store.readJobs(jobSet, ids)),
    readJobSet: (jobSet, ids) => (calls.readJobSet++, store.readJobSet(jobSet, ids)),
    write: (jobSet, update, guard) => (calls.write++, store.write(jobSet, update, guard)),
  };
}

const options = processOptions<ApiServiceOptions>();
const logger = pino({ level: "silent" });
const metrics = createMetricsRegistry({ processMetrics: true });
const calls = { read: 0, readJobs: 0, readJobSet: 0, write: 0 };
const raw = openStore(options.store, { ttlSeconds: defaultNumber("job-ttl-seconds"), logger });
const { store, notices } = withWriteNotices(counted(raw, calls));
const subscriber = createSubscriber(
  { ...SUBSCRIBER_DEFAULTS, armadaUrl: options.armadaUrl, credentials: { kind: "none" }, replicaId: `bench-${process.pid}` },
  { store, logger, metrics },
);
const WATCH_STREAMS_PER_CONNECTION = 2_500;
const service = await startService(
  // As a deployment serving thousands of watches sets JOBSERVICE_MAX_CONCURRENT_STREAMS: the default 100 per connection is for request traffic.
  {
    host: "127.0.0.1",
    port: 0,
    maxRequestBytes: 1024 * 1024,
    shutdownGraceSeconds: 1,
    maxWatches: options.maxWatches,
    limits: { ...DEFAULT_LIMITS, maxConcurrentStreams: WATCH_STREAMS_PER_CONNECTION },
  },
  { store, logger, metrics, status: subscriber, notices },
);

serveCommands(
  { port: service.listener.port },
  {
    async memory() {
      return process.memoryUsage();
    },
    async storeCalls(): Promise<StoreCalls> {
      return { ...calls };
    },
    /** Up to `count` job ids the store holds for the job set (not counted). */
    async jobIds({ jobSet, count }: { jobSet: JobSetKey; count: number }) {
      const { jobs } = await raw.readJobSet(jobSet);
      return [...jobs.keys()].slice(0, count);
    },
    async gc() {
      (globalThis as { gc?: () => void }).gc?.();
    },
  },
  async () => {
    await service.stop();
    await subscriber.close();
    await raw.close();
  },
);
