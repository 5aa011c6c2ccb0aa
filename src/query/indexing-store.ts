import type { JobStore } from "../store/store.js";

/** Ids this process remembers having indexed, so a busy job set's writes do not index its jobs again each time. */
const REMEMBERED_IDS = 100_000;

/**
 * The store, with every successful job set write also recording its jobs in
 * the job-id index, and the external job URIs its events carried in the
 * external-job-URI index. The index writes follow the guarded write and only
 * when it succeeded, so they carry that write's guard and fence: a writer
 * refused as stale or fenced indexes nothing. A job set written from nothing
 * (its first write, or the replay after a store loss) has all its ids
 * indexed again, and the replay meets every `submitted` event again, so its
 * URIs are indexed again too. An index write that fails is reported and the
 * write still counts: a missing entry only sends that query to Armada, which
 * indexes it.
 */
export function withJobIndex(store: JobStore, onIndexError: (error: unknown) => void): JobStore {
  const indexJobs = store.indexJobs?.bind(store);
  const indexUris = store.indexExternalJobUris?.bind(store);
  if (!indexJobs || !store.jobSetsOf) return store;
  const indexed = new Set<string>();
  return {
    ...store,
    async write(jobSet, update, guard) {
      await store.write(jobSet, update, guard);
      const fromNothing = guard.expected === undefined;
      const ids = [...update.jobs.keys()].filter((jobId) => fromNothing || !indexed.has(jobId));
      const uris = update.externalJobUris;
      if (ids.length === 0 && (uris === undefined || uris.size === 0)) return;
      const [jobsIndexed, urisIndexed] = await Promise.allSettled([
        ids.length > 0 ? indexJobs(jobSet, ids) : undefined,
        indexUris && uris !== undefined && uris.size > 0 ? indexUris(jobSet, uris) : undefined,
      ]);
      if (urisIndexed.status === "rejected") onIndexError(urisIndexed.reason);
      if (jobsIndexed.status === "rejected") onIndexError(jobsIndexed.reason);
      if (ids.length === 0 || jobsIndexed.status === "rejected") return;
      if (indexed.size + ids.length > REMEMBERED_IDS) indexed.clear();
      for (const jobId of ids) indexed.add(jobId);
    },
  };
}
