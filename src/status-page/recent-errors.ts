/** One problem the service ran into, as the status page lists it. */
export interface RecentError {
  /** What failed: "armada" for a job set's stream, or a readiness check's name ("store", "armada"). */
  readonly source: string;
  readonly message: string;
  /** Set when the error belongs to one job set; the page shows it only to viewers who may watch its queue. */
  readonly queue?: string;
  readonly jobSetId?: string;
  /** Milliseconds since the epoch, the first and the latest time it was seen. */
  readonly firstAt: number;
  readonly lastAt: number;
  /** How many times it was seen since it entered the list. */
  readonly count: number;
}

/** How many distinct errors a service keeps for its status page. */
export const RECENT_ERRORS_KEPT = 50;

export type RecentErrorInit = Pick<RecentError, "source" | "message" | "queue" | "jobSetId">;

export interface RecentErrors {
  record(error: RecentErrorInit): void;
  /** Newest first. */
  list(): RecentError[];
}

/**
 * The last `capacity` distinct errors. A stream retrying against the same
 * failure every few seconds is one entry with a count, not a flood that
 * pushes every other error out.
 */
export function createRecentErrors(capacity: number, now: () => number = Date.now): RecentErrors {
  // Map order is insertion order: re-inserting an entry moves it to the newest end.
  const errors = new Map<string, RecentError>();
  return {
    record(init) {
      const key = JSON.stringify([init.source, init.queue ?? "", init.jobSetId ?? "", init.message]);
      const at = now();
      const seen = errors.get(key);
      errors.delete(key);
      errors.set(key, { ...init, firstAt: seen?.firstAt ?? at, lastAt: at, count: (seen?.count ?? 0) + 1 });
      for (const oldest of errors.keys()) {
        if (errors.size <= capacity) break;
        errors.delete(oldest);
      }
    },
    list: () => [...errors.values()].reverse(),
  };
}
