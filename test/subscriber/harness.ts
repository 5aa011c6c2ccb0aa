import { Writable } from "node:stream";
import type { LevelWithSilent } from "pino";
import { afterAll, beforeAll } from "vitest";
import { createLogger, type Logger } from "../../src/observability/logger.js";
import { createMetricsRegistry, type Registry } from "../../src/observability/metrics.js";
import { startSimulator, type ObservedCall, type Simulator } from "../../src/simulator/index.js";
import type { JobAnswer } from "../../src/answers/answer.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { StoreSpec } from "../../src/store/open.js";
import { createRedisStore } from "../../src/store/redis.js";
import type { JobKey, JobSetUpdate, JobStore } from "../../src/store/store.js";
import { createUpstashStore } from "../../src/store/upstash.js";
import { createSubscriber, type Subscriber, type SubscriberOptions } from "../../src/subscriber/index.js";
import { SUBSCRIBER_DEFAULTS } from "../../src/subscriber/options.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { startUpstashGateway, type UpstashGateway } from "../support/upstash-gateway.js";

export type StoreKind = "memory" | "redis" | "upstash";
export const STORE_KINDS: readonly StoreKind[] = ["memory", "redis", "upstash"];

export const TTL_SECONDS = 600;
const UPSTASH_TOKEN = "test-upstash-token";

/** One backing store per test file; `open()` gives a fresh client of it, as a new process or replica would have. */
export interface StoreFixture {
  readonly kind: StoreKind;
  /** How a child process opens the same store (none for memory, which lives in this process). */
  readonly spec?: StoreSpec;
  /** HTTP requests the Upstash gateway has received (upstash only). */
  readonly httpRequests?: () => number;
  /** The redis-server behind the store (redis and upstash), to lose its data on purpose. */
  readonly redisUrl?: string;
  /** The Upstash gateway (upstash only), to make it fail on purpose. */
  readonly gateway?: UpstashGateway;
  /** Moves the memory store's clock forward (memory only), so that its data expires. */
  readonly advanceClock?: (ms: number) => void;
  open(): JobStore;
  stop(): Promise<void>;
}

export async function startStoreFixture(kind: StoreKind): Promise<StoreFixture> {
  const opened: JobStore[] = [];
  const track = (store: JobStore): JobStore => {
    opened.push(store);
    return store;
  };
  const closeAll = async (): Promise<void> => {
    await Promise.all(opened.map((store) => store.close().catch(() => undefined)));
  };
  if (kind === "memory") {
    // One process, one memory: every "new" client sees the same data.
    let skew = 0;
    const shared = createMemoryStore({ ttlSeconds: TTL_SECONDS, now: () => Date.now() + skew });
    return { kind, open: () => shared, stop: () => shared.close(), advanceClock: (ms) => void (skew += ms) };
  }
  const redis: RedisServer = await startRedisServer();
  if (kind === "redis") {
    return {
      kind,
      spec: { kind: "redis", url: redis.url },
      redisUrl: redis.url,
      open: () => track(createRedisStore({ url: redis.url, ttlSeconds: TTL_SECONDS })),
      stop: async () => {
        await closeAll();
        await redis.stop();
      },
    };
  }
  const gateway: UpstashGateway = await startUpstashGateway({ redisUrl: redis.url, token: UPSTASH_TOKEN });
  return {
    kind,
    spec: { kind: "upstash", url: gateway.url, token: UPSTASH_TOKEN },
    httpRequests: () => gateway.requestCount(),
    redisUrl: redis.url,
    gateway,
    open: () => track(createUpstashStore({ url: gateway.url, token: UPSTASH_TOKEN, ttlSeconds: TTL_SECONDS })),
    stop: async () => {
      await closeAll();
      await gateway.stop();
      await redis.stop();
    },
  };
}

/** Short durations, so that reconnects, expiry and takeovers happen within a test. */
export function testOptions(armadaUrl: string, overrides: Partial<SubscriberOptions> = {}): SubscriberOptions {
  return {
    ...SUBSCRIBER_DEFAULTS,
    armadaUrl,
    credentials: { kind: "none" },
    replicaId: `replica-${Math.random().toString(36).slice(2)}`,
    catchUpWaitMs: 3_000,
    idleTimeoutMs: 2_000,
    leaseTtlMs: 600,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    slowRetryMs: 1_500,
    keepaliveIntervalMs: 1_000,
    keepaliveTimeoutMs: 1_000,
    healthTimeoutMs: 500,
    ...overrides,
  };
}

export interface TestSubscriber {
  readonly subscriber: Subscriber;
  readonly metrics: Registry;
  /** Everything logged, as text, to check that secrets never appear. */
  logs(): string;
  status(key: JobKey, timeoutMs?: number): Promise<JobAnswer>;
  close(): Promise<void>;
}

export function startSubscriber(store: JobStore, options: SubscriberOptions, level: LevelWithSilent = "debug"): TestSubscriber {
  let logged = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged += chunk.toString();
      done();
    },
  });
  const logger: Logger = createLogger(level, sink);
  const metrics = createMetricsRegistry({ processMetrics: false });
  const subscriber = createSubscriber(options, { store, logger, metrics });
  return {
    subscriber,
    metrics,
    logs: () => logged,
    status: (key, timeoutMs = 5_000) => subscriber.status(key, { signal: AbortSignal.timeout(timeoutMs) }),
    close: () => subscriber.close(),
  };
}

/** Polls `probe` until `accept` holds; fails with the last value after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs = 8_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!accept(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    last = await probe();
  }
  return last;
}

let counter = 0;
/** A fresh job set name per test, so tests sharing a simulator and a store never see each other's data. */
export function uniqueJobSet(label: string): string {
  counter++;
  return `${label}-${counter}-${process.pid}`;
}

/** Simulator lifecycles of a few milliseconds per step, with no random detours. */
export const FAST_LIFECYCLE = {
  queuedMs: [5, 10],
  pendingMs: [5, 10],
  startMs: [5, 10],
  runMs: [20, 40],
  cancelMs: [5, 10],
  failureProbability: 0,
  preemptionProbability: 0,
  leaseReturnProbability: 0,
  retryProbability: 0,
} as const;

/** A submit item for a job that runs for a minute: RUNNING for the whole test unless cancelled. */
export const LONG_RUN = { annotations: { "armada-sim/duration-ms": "60000" } };

/** The GetJobSetEvents calls the simulator received for one job set, oldest first. */
export function streamCalls(sim: Simulator, jobSetId: string): ObservedCall[] {
  return sim.calls({ method: "GetJobSetEvents" }).filter((c) => c.jobSetId === jobSetId);
}

/**
 * A real store that records every write and fails the writes numbered in
 * `failWrites` (1 for the first): a store outage, which cannot be caused on
 * demand in the store itself.
 */
export function withWriteFaults(inner: JobStore, failWrites: ReadonlySet<number>) {
  const writes: JobSetUpdate[] = [];
  let reads = 0;
  const store: JobStore = {
    read: (key) => inner.read(key),
    readJobs: (jobSet, jobIds) => {
      reads++;
      return inner.readJobs(jobSet, jobIds);
    },
    readJobSet: (jobSet, jobIds) => inner.readJobSet(jobSet, jobIds),
    readProgress: (jobSet) => inner.readProgress(jobSet),
    write: async (jobSet, update, guard) => {
      const n = writes.length + 1;
      writes.push(update);
      if (failWrites.has(n)) throw new Error(`write ${n} refused`);
      return inner.write(jobSet, update, guard);
    },
    lease: (jobSet, owner, ttlMs) => inner.lease(jobSet, owner, ttlMs),
    release: (jobSet, owner) => inner.release(jobSet, owner),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return { store, writes, reads: () => reads };
}

/** What a suite of subscriber tests runs against. */
export interface TestWorld {
  readonly sim: Simulator;
  readonly fixture: StoreFixture;
  /** One store opened on the fixture for the whole suite. */
  readonly store: JobStore;
}

/**
 * Starts a simulator with `queue` and a store of `kind` before the suite's
 * tests and stops both after them. Read the fields inside tests only.
 */
export function useSimulatorAndStore(kind: StoreKind, queue: string): TestWorld {
  let started: TestWorld | undefined;
  beforeAll(async () => {
    const [sim, fixture] = await Promise.all([startSimulator({ queues: [queue], lifecycle: FAST_LIFECYCLE }), startStoreFixture(kind)]);
    started = { sim, fixture, store: fixture.open() };
  });
  afterAll(async () => {
    await started?.sim.close();
    await started?.fixture.stop();
  });
  const world = (): TestWorld => {
    if (!started) throw new Error("the simulator and store start in beforeAll: use them inside tests");
    return started;
  };
  return {
    get sim() {
      return world().sim;
    },
    get fixture() {
      return world().fixture;
    },
    get store() {
      return world().store;
    },
  };
}
