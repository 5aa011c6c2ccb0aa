import type { Registry as MetricsRegistry } from "prom-client";
import type { Logger } from "../observability/logger.js";
import { answerFor, lookUp, type JobAnswer, type JobStatusSource } from "../status/answer.js";
import type { JobKey, JobLookup, JobStore } from "../store/store.js";
import { createArmadaClient } from "./armada-client.js";
import { createAuthorization } from "./credentials.js";
import { createSubscriberMetrics } from "./metrics.js";
import type { SubscriberOptions } from "./options.js";
import { createRegistry, type Entry } from "./registry.js";

export type { ArmadaCredentials, SubscriberOptions } from "./options.js";
export { SUBSCRIBER_DEFAULTS } from "./options.js";

export interface SubscriberDeps {
  readonly store: JobStore;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly now?: () => number;
}

export interface Subscriber extends JobStatusSource {
  /** `api.Event/Health` within its deadline: false when Armada is unreachable or not serving; never hangs. */
  armadaHealthy(signal: AbortSignal): Promise<boolean>;
  /** Stops every subscription, gives up its leases and closes the connections to Armada. */
  close(): Promise<void>;
}

/** How often a replica that does not own a job set looks for its owner's progress while a first call waits. */
const FOLLOWER_POLL_MS = 50;

/** What a job set that nobody has read yet looks like: not caught up, so absence proves nothing. */
const NOT_READ_YET = { cursor: "", caughtUp: false, error: "", updatedAt: 0 };

/**
 * The store's answer, corrected by what this replica knows and the store may
 * not: that its own stream is failing (if recording that failed too), and
 * that a job set it has just started has not been read yet.
 */
function lookupWithLocalKnowledge(entry: Entry, lookup: JobLookup): JobLookup {
  const stored = lookup.progress ?? (entry.ready && !entry.failure ? undefined : NOT_READ_YET);
  const progress = entry.failure && stored && !stored.error ? { ...stored, error: entry.failure.text } : stored;
  return { ...lookup, progress };
}

/** Resolves when the entry is ready, the caller gives up, or the catch-up wait is over, whichever comes first. */
async function waitUntilReady(entry: Entry, signal: AbortSignal, maxWaitMs: number): Promise<void> {
  if (entry.ready) return;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      entry.whenReady,
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
  const client = createArmadaClient({
    url: options.armadaUrl,
    caFile: options.caFile,
    authorization: createAuthorization(options.credentials, { now }),
    maxConnections: options.maxConnections,
    maxStreamsPerConnection: options.maxStreamsPerConnection,
    keepaliveIntervalMs: options.keepaliveIntervalMs,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    healthTimeoutMs: options.healthTimeoutMs,
  });
  // Scrapes happen after construction, so the snapshot can name the registry made below.
  const metrics = createSubscriberMetrics(deps.metrics, () => subscriptions.snapshot());
  const subscriptions = createRegistry(
    {
      replicaId: options.replicaId,
      leaseTtlMs: options.leaseTtlMs,
      maxSubscriptions: options.maxSubscriptions,
      expiryMs: options.subscriptionExpirySeconds * 1000,
      followerPollMs: FOLLOWER_POLL_MS,
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
    },
  );

  return {
    async status(key: JobKey, signal: AbortSignal): Promise<JobAnswer> {
      const entry = subscriptions.touch({ queue: key.queue, jobSetId: key.jobSetId });
      await waitUntilReady(entry, signal, options.catchUpWaitMs);
      return answerFor(lookupWithLocalKnowledge(entry, await lookUp(deps.store, key)));
    },
    armadaHealthy: (signal) => client.healthy(signal),
    async close() {
      await subscriptions.close();
      client.close();
    },
  };
}
