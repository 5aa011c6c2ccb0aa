import type { JobStore } from "../store/store.js";

/** Ids this process remembers having indexed, so a busy job set's writes do not index its jobs again each time. */
const REMEMBERED_IDS = 100_000;

/**
 * The store, with every successful job set write also recording its jobs in
 * the job-id index. The index write follows the guarded write and only when
 * it succeeded, so it carries that write's guard and fence: a writer refused
 * as stale or fenced indexes nothing. A job set written from nothing (its
 * first write, or the replay after a store loss) has all its ids indexed
 * again. An index write that fails is reported and the write still counts:
 * a missing entry only sends that id's query to Armada, which indexes it.
 */
export function withJobIndex(store: JobStore, onIndexError: (error: unknown) => void): JobStore {
  const indexJobs = store.indexJobs?.bind(store);
  if (!indexJobs || !store.jobSetsOf) return store;
  const indexed = new Set<string>();
  return {
    ...store,
    async write(jobSet, update, guard) {
      await store.write(jobSet, update, guard);
      const fromNothing = guard.expected === undefined;
      const ids = [...update.jobs.keys()].filter((jobId) => fromNothing || !indexed.has(jobId));
      if (ids.length === 0) return;
      try {
        await indexJobs(jobSet, ids);
      } catch (error) {
        onIndexError(error);
        return;
      }
      if (indexed.size + ids.length > REMEMBERED_IDS) indexed.clear();
      for (const jobId of ids) indexed.add(jobId);
    },
  };
}
