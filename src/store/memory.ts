import { requirePositiveInteger } from "./checks.js";
import { normalizeJobRecord, normalizeProgress } from "./codec.js";
import { memoryExternalUriIndex } from "./external-uri-index.js";
import { memoryJobIndex } from "./job-index.js";
import { jobSetTag } from "./keys.js";
import { refusal, requireJobIds } from "./refusal.js";
import type { JobRecord, JobSetKey, JobSetProgress, JobStore } from "./store.js";

interface StoredJobSet {
  /**
   * Job id → record, as a Redis store would give it back (normalized by the
   * codec's rules, so both refuse the same input), kept as the object:
   * nothing reads or changes it in place, and the JSON round trip would cost
   * more than the rest of ingest.
   */
  readonly jobs: Map<string, JobRecord>;
  progress: JobSetProgress;
  cursor: string;
  /** The highest fencing token that has written. */
  fence: number;
  expiresAt: number;
}

interface HeldLease {
  readonly owner: string;
  readonly fence: number;
  readonly expiresAt: number;
}

// How often at most the timer drops expired job sets; access drops them too.
const SWEEP_INTERVAL_MS = 60_000;

/**
 * The embedded store: everything in this process, with the same expiry and
 * lease rules as Redis. A job set expires `ttlSeconds` after its last write or
 * lease; its lease expires on its own.
 */
export function createMemoryStore(options: { ttlSeconds: number; now?: () => number }): JobStore {
  requirePositiveInteger("ttlSeconds", options.ttlSeconds);
  const ttlMs = options.ttlSeconds * 1000;
  const now = options.now ?? Date.now;
  const jobSets = new Map<string, StoredJobSet>();
  const leases = new Map<string, HeldLease>();
  let closed = false;
  // Keeps tokens growing when the clock does not (a test's manual clock).
  let lastFence = 0;

  const live = <T extends { expiresAt: number }>(entries: Map<string, T>, tag: string): T | undefined => {
    const entry = entries.get(tag);
    if (entry === undefined || entry.expiresAt > now()) return entry;
    entries.delete(tag);
    return undefined;
  };
  const index = memoryJobIndex(ttlMs, now);
  const uriIndex = memoryExternalUriIndex(ttlMs, now);
  const sweep = (): void => {
    index.sweep();
    uriIndex.sweep();
    for (const entries of [jobSets, leases]) {
      for (const [tag, entry] of entries) if (entry.expiresAt <= now()) entries.delete(tag);
    }
  };
  const timer = setInterval(sweep, Math.min(ttlMs, SWEEP_INTERVAL_MS));
  timer.unref();

  const open = (jobSet: JobSetKey): string => {
    if (closed) throw new Error("the memory store is closed");
    return jobSetTag(jobSet);
  };

  return {
    async read(key) {
      const stored = live(jobSets, open(key));
      const job = stored?.jobs.get(key.jobId);
      return { ...(job !== undefined && { job }), ...(stored !== undefined && { progress: stored.progress }) };
    },
    async readJobs(jobSet, jobIds) {
      const stored = live(jobSets, open(jobSet));
      return found(stored, jobIds);
    },
    async readJobSet(jobSet, jobIds) {
      const stored = live(jobSets, open(jobSet));
      if (stored === undefined) return { jobs: new Map() };
      return { jobs: jobIds === undefined ? new Map(stored.jobs) : found(stored, jobIds), progress: stored.progress };
    },
    async readProgress(jobSet) {
      return live(jobSets, open(jobSet))?.progress;
    },
    async write(jobSet, update, guard) {
      const tag = open(jobSet);
      requireJobIds(jobSet, update.jobs.keys());
      // Normalized before anything is written, so a bad record fails the whole write.
      const jobs = [...update.jobs].map(([jobId, record]) => [jobId, normalizeJobRecord(record)] as const);
      const progress = normalizeProgress(update.progress);
      if (!Number.isSafeInteger(guard.fence) || guard.fence < 0) {
        throw new Error(`a write's fencing token must be a non-negative integer, got ${String(guard.fence)}`);
      }
      const expiresAt = now() + ttlMs;
      const stored = live(jobSets, tag);
      if (stored !== undefined && guard.fence < stored.fence) throw refusal("fenced", jobSet, guard);
      if (stored?.cursor !== guard.expected) throw refusal("stale", jobSet, guard);
      const cursor = update.progress.cursor;
      if (stored === undefined) {
        jobSets.set(tag, { jobs: new Map(jobs), progress, cursor, fence: guard.fence, expiresAt });
        return;
      }
      for (const [jobId, record] of jobs) stored.jobs.set(jobId, record);
      Object.assign(stored, { progress, cursor, fence: guard.fence, expiresAt });
    },
    async lease(jobSet, owner, leaseMs) {
      requirePositiveInteger("lease ttlMs", leaseMs);
      const tag = open(jobSet);
      const held = live(leases, tag);
      if (held !== undefined && held.owner !== owner) return undefined;
      const stored = live(jobSets, tag);
      // As in Redis: a new token from the clock (in microseconds), above every token that wrote.
      const fence = held?.fence ?? Math.max(now() * 1000, (stored?.fence ?? 0) + 1, lastFence + 1);
      lastFence = fence;
      leases.set(tag, { owner, fence, expiresAt: now() + leaseMs });
      if (stored !== undefined) stored.expiresAt = now() + ttlMs;
      return { fence, stored: stored !== undefined, ...(stored && { holds: { cursor: stored.cursor, fence: stored.fence } }) };
    },
    async release(jobSet, owner) {
      const tag = open(jobSet);
      if (live(leases, tag)?.owner === owner) leases.delete(tag);
    },
    async ping() {
      if (closed) throw new Error("the memory store is closed");
    },
    indexJobs: (jobSet, jobIds) => (closed ? Promise.reject(new Error("the memory store is closed")) : index.indexJobs(jobSet, jobIds)),
    jobSetsOf: (jobIds) => (closed ? Promise.reject(new Error("the memory store is closed")) : index.jobSetsOf(jobIds)),
    indexExternalJobUris: (jobSet, uris) => (closed ? Promise.reject(new Error("the memory store is closed")) : uriIndex.indexExternalJobUris(jobSet, uris)),
    jobIdsOfExternalUri: (jobSet, uri) => (closed ? Promise.reject(new Error("the memory store is closed")) : uriIndex.jobIdsOfExternalUri(jobSet, uri)),
    async close() {
      closed = true;
      clearInterval(timer);
      jobSets.clear();
      leases.clear();
    },
  };
}

function found(stored: StoredJobSet | undefined, jobIds: readonly string[]): Map<string, JobRecord> {
  const jobs = new Map<string, JobRecord>();
  if (stored === undefined) return jobs;
  for (const jobId of jobIds) {
    const record = stored.jobs.get(jobId);
    if (record !== undefined) jobs.set(jobId, record);
  }
  return jobs;
}
