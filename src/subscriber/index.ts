import type { Registry as MetricsRegistry } from "prom-client";
import type { Logger } from "../observability/logger.js";
import { answerFor, lookUp, lookUpJobSet, type ForCall, type JobAnswer, type JobStatusSource } from "../answers/answer.js";
import type { JobKey, JobLookup, JobSetKey, JobSetLookup, JobSetProgress, JobStore } from "../store/store.js";
import { createArmadaClient } from "../armada/armada-client.js";
import { createConcurrencyLimit } from "../armada/concurrency-limit.js";
import type { ArmadaConnections } from "../armada/connections.js";
import type { Authorization } from "../armada/authorization.js";
import { createAuthorization } from "../armada/credentials.js";
import { createSubscriberMetrics } from "./metrics.js";
import type { SubscriberOptions } from "./options.js";
import { createRegistry, type Entry, type JobSetStatus } from "./registry.js";
import type { StreamFailure } from "./subscription.js";

export type { ArmadaCredentials, SubscriberOptions } from "./options.js";
export type { JobSetStatus } from "./registry.js";
export type { StreamFailure } from "./subscription.js";
export { SUBSCRIBER_DEFAULTS } from "./options.js";

export interface SubscriberDeps {
  readonly store: JobStore;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly now?: () => number;
  /** The service's connections to Armada, shared with its other calls; the subscriber opens its own when absent. */
  readonly connections?: ArmadaConnections;
  /** The service's identity toward Armada, shared with its other calls (one token cache); made from the options when absent. */
  readonly authorization?: Authorization;
  /** Told of every failure of a stream this replica owns. */
  readonly onStreamFailure?: (jobSet: JobSetKey, failure: StreamFailure) => void;
  /** Told of each job set whose subscription expired (see RegistryOptions.onExpired). */
  readonly onExpired?: (jobSet: JobSetStatus) => void;
}

export interface Subscriber extends JobStatusSource {
  /** `api.Event/Health` within its deadline: false when Armada is unreachable or not serving; never hangs. */
  armadaHealthy(signal: AbortSignal): Promise<boolean>;
  /** The job sets this replica serves, from memory (no store round trip). */
  jobSets(): JobSetStatus[];
  /** Stops every subscription, gives up its leases and closes the connections to Armada. */
  close(): Promise<void>;
}

/** How often a replica that does not own a job set looks for its owner's progress while a first call waits. */
const FOLLOWER_POLL_MS = 50;

/**
 * History reads that run at once across all job sets. Beyond a few dozen they
 * only share the same CPU and connections, while each one in flight holds its
 * stream, batch and store write; thousands started together made the heap grow
 * to hold them all, and V8 keeps a heap it has grown to.
 */
export const CONCURRENT_CATCH_UPS = 128;

/** What a job set that nobody has read yet looks like: not caught up, so absence proves nothing. */
const NOT_READ_YET = { cursor: "", caughtUp: false, error: "", updatedAt: 0 };

/**
 * The store's answer, corrected by what this replica knows and the store may
 * not: that its own stream is failing (if recording that failed too), and
 * that a job set it has just started has not been read yet.
 */
function lookupWithLocalKnowledge<T extends JobLookup | JobSetLookup>(entry: Entry, lookup: T): T {
  return { ...lookup, progress: progressWithLocalKnowledge(entry, lookup.progress) };
}

function progressWithLocalKnowledge(entry: Entry, progress: JobSetProgress | undefined): JobSetProgress | undefined {
  const stored = progress ?? (entry.ready && !entry.failure ? undefined : NOT_READ_YET);
  return entry.failure && stored && !stored.error ? { ...stored, error: entry.failure.text } : stored;
}

/** Resolves when the entry is ready, the store fails, the caller gives up, or the catch-up wait is over, whichever comes first. */
async function waitUntilReady(entry: Entry, call: ForCall, maxWaitMs: number): Promise<void> {
  if (entry.ready || entry.storeFailure !== undefined) return;
  const signal = call.signal;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      entry.whenReady,
      entry.storeFailed,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, maxWaitMs);
        onAbort = resolve;
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

export function createSubscriber(options: SubscriberOptions, deps: SubscriberDeps): Subscriber {
  const now = deps.now ?? Date.now;
  // Scrapes happen after construction, so the snapshot can name the registry made below.
  const metrics = createSubscriberMetrics(deps.metrics, () => subscriptions.snapshot());
  const client = createArmadaClient({
    url: options.armadaUrl,
    caFile: options.caFile,
    authorization: deps.authorization ?? createAuthorization(options.credentials, { now }),
    maxConnections: options.maxConnections,
    maxStreamsPerConnection: options.maxStreamsPerConnection,
    keepaliveIntervalMs: options.keepaliveIntervalMs,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    healthTimeoutMs: options.healthTimeoutMs,
    connections: deps.connections,
    onUndecodable(request, problem) {
      metrics.undecodableEvents.inc();
      deps.logger.warn(
        { queue: request.queue, jobSetId: request.jobSetId, messageId: problem.messageId, bytes: problem.bytes, error: problem.error },
        "skipped a message from Armada that does not decode; the stream goes on after it",
      );
    },
  });
  const subscriptions = createRegistry(
    {
      replicaId: options.replicaId,
      leaseTtlMs: options.leaseTtlMs,
      maxSubscriptions: options.maxSubscriptions,
      expiryMs: options.subscriptionExpirySeconds * 1000,
      followerPollMs: FOLLOWER_POLL_MS,
      onStreamFailure: deps.onStreamFailure,
      onExpired: deps.onExpired,
    },
    {
      client,
      store: deps.store,
      metrics,
      logger: deps.logger,
      now,
      backoff: { minMs: options.reconnectMinMs, maxMs: options.reconnectMaxMs, slowMs: options.slowRetryMs },
      idleTimeoutMs: options.idleTimeoutMs,
      batchMaxEvents: options.batchMaxEvents,
      batchMaxDelayMs: options.batchMaxDelayMs,
      catchUps: createConcurrencyLimit(CONCURRENT_CATCH_UPS),
    },
  );

  return {
    async status(key: JobKey, call: ForCall): Promise<JobAnswer> {
      const entry = subscriptions.touch({ queue: key.queue, jobSetId: key.jobSetId });
      await waitUntilReady(entry, call, options.catchUpWaitMs);
      return answerFor(lookupWithLocalKnowledge(entry, await lookUp(deps.store, key)));
    },
    follows: (jobSet) => subscriptions.has(jobSet),
    async lookup(jobSet: JobSetKey, jobIds: readonly string[] | undefined, call: ForCall): Promise<JobSetLookup> {
      const entry = subscriptions.touch({ queue: jobSet.queue, jobSetId: jobSet.jobSetId });
      await waitUntilReady(entry, call, options.catchUpWaitMs);
      return lookupWithLocalKnowledge(entry, await lookUpJobSet(deps.store, jobSet, jobIds));
    },
    armadaHealthy: (signal) => client.healthy(signal),
    jobSets: () => subscriptions.jobSets(),
    async close() {
      await subscriptions.close();
      client.close();
    },
  };
}
