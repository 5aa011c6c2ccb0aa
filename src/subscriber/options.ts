import type { ArmadaCredentials } from "../armada/authorization.js";
import { defaultNumber } from "../config/settings.js";

export type { ArmadaCredentials, OidcEndpoint } from "../armada/authorization.js";

/** Every setting of the subscriber; `docs/subscriber-options.md` lists them with their environment variables. */
export interface SubscriberOptions {
  /** `http://host:port` (h2c) or `https://host:port` (TLS). */
  readonly armadaUrl: string;
  /** PEM file of the CA that signs Armada's certificate; Node's bundled roots when absent. */
  readonly caFile?: string;
  readonly credentials: ArmadaCredentials;
  /** How long the first call for a job set waits for its history to be applied. */
  readonly catchUpWaitMs: number;
  /** A subscription nobody asked about for this long is closed. */
  readonly subscriptionExpirySeconds: number;
  /** Most job sets one replica follows or answers for at once; beyond it calls get RESOURCE_EXHAUSTED. */
  readonly maxSubscriptions: number;
  /** A stream silent for this long is reopened (Armada sends no heartbeats); reading history that stalls this long is an error. */
  readonly idleTimeoutMs: number;
  /** Lifetime of a replica's claim on a job set; renewed at a third of it, taken over by another replica after it. */
  readonly leaseTtlMs: number;
  /** This replica's name in leases; unique per process. */
  readonly replicaId: string;
  /** A batch of events is written when it reaches this many events… */
  readonly batchMaxEvents: number;
  /** …or this many milliseconds after its first event. */
  readonly batchMaxDelayMs: number;
  /** HTTP/2 connections to Armada in the pool. */
  readonly maxConnections: number;
  /** Streams per connection, lowered further by the server's SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxStreamsPerConnection: number;
  /** HTTP/2 PING interval on connections with open streams; a connection that misses the answer is closed. */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  /** Backoff after a stream error: doubling from the minimum, capped, with jitter. */
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Retry interval after NOT_FOUND, PERMISSION_DENIED or UNAUTHENTICATED, which retrying fast cannot fix. */
  readonly slowRetryMs: number;
  /** Deadline of `api.Event/Health` when checking Armada's reachability. */
  readonly healthTimeoutMs: number;
}

export type SubscriberDefaults = Omit<SubscriberOptions, "armadaUrl" | "caFile" | "credentials" | "replicaId">;

/**
 * For library callers: the settings' defaults come from the settings table;
 * the rest are tuning no setting exposes.
 */
export const SUBSCRIBER_DEFAULTS: SubscriberDefaults = {
  catchUpWaitMs: defaultNumber("catch-up-wait-ms"),
  subscriptionExpirySeconds: defaultNumber("subscription-expiry-seconds"),
  maxSubscriptions: defaultNumber("max-subscriptions"),
  idleTimeoutMs: defaultNumber("stream-idle-timeout-ms"),
  leaseTtlMs: defaultNumber("lease-ttl-ms"),
  batchMaxEvents: defaultNumber("batch-max-events"),
  batchMaxDelayMs: defaultNumber("batch-max-delay-ms"),
  maxConnections: defaultNumber("armada-connections"),
  maxStreamsPerConnection: 2_500,
  keepaliveIntervalMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  reconnectMinMs: 250,
  reconnectMaxMs: 30_000,
  slowRetryMs: 60_000,
  healthTimeoutMs: 2_000,
};
