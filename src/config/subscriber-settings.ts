import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { SUBSCRIBER_DEFAULTS, type ArmadaCredentials, type SubscriberOptions } from "../subscriber/options.js";
import { integer, nonEmpty, url } from "./parse.js";
import { readableFile } from "./readable-file.js";
import type { SettingReader } from "./setting-reader.js";

/** How many job sets one process follows, over how many connections to Armada. */
export interface SubscriberPool {
  readonly maxSubscriptions: number;
  readonly maxConnections: number;
}

export function subscriberPool({ value }: SettingReader): SubscriberPool {
  return {
    maxSubscriptions: value("max-subscriptions", integer(1, 1_000_000)),
    maxConnections: value("armada-connections", integer(1, 256)),
  };
}

/**
 * The subscriber's settings: where Armada is, how long to wait and follow, how
 * to batch writes. The credentials are read in their place among them, so
 * problems keep their order.
 */
export function subscriberOptions({ get, value }: SettingReader, pool: SubscriberPool, credentials: () => ArmadaCredentials): SubscriberOptions {
  return {
    ...SUBSCRIBER_DEFAULTS,
    armadaUrl: value("armada-url", url(["http:", "https:"]))
      .toString()
      .replace(/\/$/, ""),
    caFile: get("armada-ca-file", readableFile),
    credentials: credentials(),
    catchUpWaitMs: value("catch-up-wait-ms", integer(0, 600_000)),
    subscriptionExpirySeconds: value("subscription-expiry-seconds", integer(1, 7 * 86400)),
    maxSubscriptions: pool.maxSubscriptions,
    idleTimeoutMs: value("stream-idle-timeout-ms", integer(1000, 86_400_000)),
    leaseTtlMs: value("lease-ttl-ms", integer(1000, 3_600_000)),
    replicaId: get("replica-id", nonEmpty) ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
    maxConnections: pool.maxConnections,
    // Every allowed subscription must fit on the pool, or streams past the
    // pool's capacity would wait for a slot that never frees.
    maxStreamsPerConnection: Math.max(SUBSCRIBER_DEFAULTS.maxStreamsPerConnection, Math.ceil(pool.maxSubscriptions / pool.maxConnections)),
    batchMaxEvents: value("batch-max-events", integer(1, 100_000)),
    batchMaxDelayMs: value("batch-max-delay-ms", integer(0, 10_000)),
  };
}
