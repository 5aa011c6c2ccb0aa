import { Code, ConnectError } from "@connectrpc/connect";

/**
 * JOBSERVICE_MAX_NEW_SUBSCRIPTIONS_PER_MINUTE: a token bucket per principal,
 * refilled continuously, holding at most a minute's allowance. Only calls
 * that would start following a new job set take from it.
 */
export interface SubscriptionLimit {
  /** Throws RESOURCE_EXHAUSTED when the principal has used its allowance. */
  take(principal: string): void;
}

export function createSubscriptionLimit(perMinute: number, now: () => number): SubscriptionLimit {
  if (perMinute <= 0) return { take: () => undefined };
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();
  return {
    take(principal) {
      const at = now();
      if (at - lastSweep > 60_000) {
        // A bucket that has refilled is the same as no bucket: forget it.
        for (const [name, bucket] of buckets) if (bucket.tokens + (at - bucket.at) * perMs >= perMinute) buckets.delete(name);
        lastSweep = at;
      }
      const bucket = buckets.get(principal) ?? { tokens: perMinute, at };
      const tokens = Math.min(perMinute, bucket.tokens + (at - bucket.at) * perMs);
      if (tokens < 1) {
        buckets.set(principal, { tokens, at });
        throw new ConnectError(
          `this caller has started following ${perMinute} new job sets in the last minute, its limit; retry later`,
          Code.ResourceExhausted,
        );
      }
      buckets.set(principal, { tokens: tokens - 1, at });
    },
  };
}
