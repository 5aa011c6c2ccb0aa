/** The settled outcome of one check: a value, or the error to throw again. */
export type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

export interface DecisionCacheOptions<T> {
  readonly now: () => number;
  /** How long an outcome is reused, in ms; 0 keeps it only for the calls already waiting. */
  readonly ttlMs: (outcome: Settled<T>) => number;
  /** Oldest entries are dropped beyond this, so many distinct (bad) credentials cannot grow memory without bound. */
  readonly maxEntries: number;
}

/**
 * Remembers the outcome of checks by key, allowed and refused alike, and runs
 * at most one check per key at a time: concurrent callers with the same key
 * share it. A burst of identical calls costs one check per key and period.
 * An outcome still asked for in the last quarter of its period is checked
 * again in the background while callers keep getting it, so a steady caller
 * never waits for a check; no outcome is used past its period.
 */
export interface DecisionCache<T> {
  get(key: string, check: () => Promise<T>): Promise<T>;
  size(): number;
}

export function createDecisionCache<T>(options: DecisionCacheOptions<T>): DecisionCache<T> {
  const settled = new Map<string, { outcome: Settled<T>; until: number; refreshAt: number }>();
  const pending = new Map<string, Promise<Settled<T>>>();

  function unwrap(outcome: Settled<T>): T {
    if (outcome.ok) return outcome.value;
    throw outcome.error;
  }

  function remember(key: string, outcome: Settled<T>): void {
    const ttl = options.ttlMs(outcome);
    if (ttl <= 0) return;
    settled.delete(key);
    const now = options.now();
    settled.set(key, { outcome, until: now + ttl, refreshAt: now + ttl * REFRESH_AFTER });
    while (settled.size > options.maxEntries) {
      const oldest = settled.keys().next().value;
      if (oldest === undefined) break;
      settled.delete(oldest);
    }
  }

  /** One check per key at a time; its outcome replaces what the key held, if it may be kept. */
  function start(key: string, check: () => Promise<T>): Promise<Settled<T>> {
    let running = pending.get(key);
    if (!running) {
      running = check().then(
        (value): Settled<T> => ({ ok: true, value }),
        (error: unknown): Settled<T> => ({ ok: false, error }),
      );
      pending.set(key, running);
      void running.then((outcome) => {
        pending.delete(key);
        remember(key, outcome);
      });
    }
    return running;
  }

  return {
    async get(key, check) {
      const hit = settled.get(key);
      const now = options.now();
      if (hit && hit.until > now) {
        if (now >= hit.refreshAt) {
          // Once per outcome: a refresh that cannot decide (not kept) is not retried on every call.
          hit.refreshAt = Infinity;
          void start(key, check);
        }
        return unwrap(hit.outcome);
      }
      if (hit) settled.delete(key);
      return unwrap(await start(key, check));
    },
    size: () => settled.size,
  };
}

/** The share of an outcome's period after which a caller still asking for it has it checked again. */
const REFRESH_AFTER = 0.75;
