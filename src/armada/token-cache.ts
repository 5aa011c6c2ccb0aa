import type { Authorization } from "./authorization.js";

/** A freshly obtained `authorization` value and how long it stays valid. */
export interface IssuedToken {
  readonly value: string;
  readonly lifetimeMs: number;
}

export interface TokenCacheOptions {
  readonly now: () => number;
  /**
   * After a failure with no valid token left, the same error is answered for
   * this long instead of asking again: every stream retrying on its own
   * backoff must not turn into a burst of requests (or command runs).
   */
  readonly failureHoldMs?: number;
}

/** Refresh this far ahead of expiry: a quarter of the lifetime, at most a minute. */
const MAX_REFRESH_MARGIN_MS = 60_000;

export function refreshMarginMs(lifetimeMs: number): number {
  return Math.min(MAX_REFRESH_MARGIN_MS, lifetimeMs / 4);
}

interface Cached {
  readonly value: string;
  /** When to fetch a new one: ahead of the expiry, so a call never carries an expired token. */
  readonly refreshAt: number;
  readonly expiresAt: number;
}

/**
 * Caches what `issue` returns until shortly before it expires; concurrent
 * callers share one `issue` call, and a failed early refresh keeps serving
 * the token that is still valid.
 */
export function cachedAuthorization(issue: () => Promise<IssuedToken>, options: TokenCacheOptions): Authorization {
  let cached: Cached | undefined;
  let inFlight: Promise<Cached> | undefined;
  let failure: { readonly error: unknown; readonly until: number } | undefined;

  const fetchOne = async (): Promise<Cached> => {
    const issued = await issue();
    const now = options.now();
    return { value: issued.value, expiresAt: now + issued.lifetimeMs, refreshAt: now + issued.lifetimeMs - refreshMarginMs(issued.lifetimeMs) };
  };

  const stillValid = (at: number): string | undefined => (cached && at < cached.expiresAt ? cached.value : undefined);

  return async () => {
    const now = options.now();
    if (cached && now < cached.refreshAt) return cached.value;
    if (failure && now < failure.until) {
      const valid = stillValid(now);
      if (valid !== undefined) return valid;
      throw failure.error;
    }
    inFlight ??= fetchOne().finally(() => (inFlight = undefined));
    try {
      cached = await inFlight;
      failure = undefined;
      return cached.value;
    } catch (err) {
      const at = options.now();
      if (options.failureHoldMs) failure = { error: err, until: at + options.failureHoldMs };
      // A failed early refresh is no reason to drop a token that is still valid.
      const valid = stillValid(at);
      if (valid !== undefined) return valid;
      throw err;
    }
  };
}
