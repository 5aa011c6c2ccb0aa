export interface BackoffPolicy {
  readonly minMs: number;
  readonly maxMs: number;
  /** The interval for failures that retrying fast cannot fix (NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED). */
  readonly slowMs: number;
}

/**
 * How long to wait before retry number `attempt` (0 for the first): doubling
 * from the minimum up to the maximum, or the slow interval, each scattered
 * over its upper half so that thousands of job sets failing together do not
 * reconnect together.
 */
export function retryDelayMs(policy: BackoffPolicy, attempt: number, slow: boolean, random: () => number = Math.random): number {
  const ceiling = slow ? policy.slowMs : Math.min(policy.maxMs, policy.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
