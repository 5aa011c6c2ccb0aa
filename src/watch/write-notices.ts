import type { JobSetKey, JobStore } from "../store/store.js";

/** Tells who listens that a job set was written through this process's store. */
export interface WriteNotices {
  /** Returns the function that stops listening. */
  listen(listener: (jobSet: JobSetKey) => void): () => void;
}

/**
 * The store, telling listeners after each completed write. The subscription
 * that owns a job set writes through it, so this replica's watchers learn of
 * a change as soon as it is stored, without polling.
 */
export function withWriteNotices(store: JobStore): { readonly store: JobStore; readonly notices: WriteNotices } {
  const listeners = new Set<(jobSet: JobSetKey) => void>();
  return {
    store: {
      ...store,
      async write(jobSet, update, guard) {
        await store.write(jobSet, update, guard);
        for (const listener of listeners) listener(jobSet);
      },
    },
    notices: {
      listen(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
  };
}
