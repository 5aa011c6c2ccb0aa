/** Gives back a slot taken with `acquire`; calling it again does nothing. */
export type Release = () => void;

/** At most `limit` holders at once; the others wait their turn in arrival order. */
export interface ConcurrencyLimit {
  /** Resolves with a slot once one is free; rejects with the signal's reason if it aborts first, and then takes no slot. */
  acquire(signal: AbortSignal): Promise<Release>;
  /** Slots held now. */
  active(): number;
  /** Callers waiting for a slot. */
  waiting(): number;
}

export function createConcurrencyLimit(limit: number): ConcurrencyLimit {
  if (!(limit >= 1)) throw new RangeError(`a concurrency limit must be at least 1, not ${limit}`);
  let active = 0;
  // Insertion order is arrival order, and an aborted waiter leaves from anywhere in O(1).
  const queue = new Set<() => void>();

  function slot(): Release {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = queue.values().next();
      if (next.done) active--;
      // The slot passes straight to the next waiter, so a newcomer cannot overtake it.
      else next.value();
    };
  }

  return {
    acquire(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (active < limit) {
        active++;
        return Promise.resolve(slot());
      }
      return new Promise<Release>((resolve, reject) => {
        const granted = (): void => {
          queue.delete(granted);
          signal.removeEventListener("abort", aborted);
          resolve(slot());
        };
        const aborted = (): void => {
          queue.delete(granted);
          reject(signal.reason);
        };
        queue.add(granted);
        signal.addEventListener("abort", aborted, { once: true });
      });
    },
    active: () => active,
    waiting: () => queue.size,
  };
}
