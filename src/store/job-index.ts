import { escapeId, jobSetTag, unescapeId } from "./keys.js";
import type { LuaScript, ScriptRunner } from "./scripts.js";
import type { JobSetKey } from "./store.js";

/**
 * The job-id index: which job set each job id belongs to, for Armada's Query
 * API, which asks by id alone. An entry is a fact that never changes (a job
 * belongs to one job set for ever), so writing it again is harmless and no
 * entry can take an answer back in time; it expires like a job set, `ttl`
 * after its last write, and is written again whenever its job set is
 * (re)written, so a store loss is repaired by the replay that rebuilds the
 * job set.
 */
export interface JobIndex {
  /** Records that these jobs belong to `jobSet`. */
  indexJobs(jobSet: JobSetKey, jobIds: readonly string[]): Promise<void>;
  /** The job set of each indexed id; ids not indexed are left out. */
  jobSetsOf(jobIds: readonly string[]): Promise<Map<string, JobSetKey>>;
}

/**
 * One key per job, `jobservice:job:{<escaped id>}` → `<escaped queue>:<escaped job set>`:
 * the id is its own Cluster hash tag, so each entry is one single-slot command.
 */
export function jobIndexKey(jobId: string): string {
  return `jobservice:job:{${escapeId(jobId)}}`;
}

/** The job set an index value names; undefined for a value this build did not write. */
export function jobSetOfIndexValue(value: string): JobSetKey | undefined {
  const parts = value.split(":");
  if (parts.length !== 2) return undefined;
  return { queue: unescapeId(parts[0] ?? ""), jobSetId: unescapeId(parts[1] ?? "") };
}

/** KEYS: index key. ARGV: ttl seconds, value. */
const INDEX_SCRIPT: LuaScript = { name: "indexJob", source: "return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])" };
/** KEYS: index key. */
const LOOKUP_SCRIPT: LuaScript = { name: "jobSetOf", source: "return redis.call('GET', KEYS[1])" };

/** The index over the Redis-protocol backends, one script per entry (they are issued together and pipelined). */
export function scriptedJobIndex(run: ScriptRunner, ttlSeconds: string): JobIndex {
  return {
    async indexJobs(jobSet, jobIds) {
      const value = jobSetTag(jobSet);
      await Promise.all(jobIds.map((jobId) => run(INDEX_SCRIPT, [jobIndexKey(jobId)], [ttlSeconds, value])));
    },
    async jobSetsOf(jobIds) {
      const unique = [...new Set(jobIds)];
      const replies = await Promise.all(unique.map((jobId) => run(LOOKUP_SCRIPT, [jobIndexKey(jobId)], [])));
      const found = new Map<string, JobSetKey>();
      unique.forEach((jobId, i) => {
        const reply = replies[i];
        const jobSet = typeof reply === "string" ? jobSetOfIndexValue(reply) : undefined;
        if (jobSet) found.set(jobId, jobSet);
      });
      return found;
    },
  };
}

/** The index inside the memory store, with the same expiry. */
export function memoryJobIndex(ttlMs: number, now: () => number): JobIndex & { sweep(): void } {
  const entries = new Map<string, { readonly jobSet: JobSetKey; readonly expiresAt: number }>();
  return {
    async indexJobs(jobSet, jobIds) {
      const entry = { jobSet: { queue: jobSet.queue, jobSetId: jobSet.jobSetId }, expiresAt: now() + ttlMs };
      for (const jobId of jobIds) entries.set(jobId, entry);
    },
    async jobSetsOf(jobIds) {
      const found = new Map<string, JobSetKey>();
      for (const jobId of jobIds) {
        const entry = entries.get(jobId);
        if (entry === undefined) continue;
        if (entry.expiresAt > now()) found.set(jobId, entry.jobSet);
        else entries.delete(jobId);
      }
      return found;
    },
    sweep() {
      for (const [jobId, entry] of entries) if (entry.expiresAt <= now()) entries.delete(jobId);
    },
  };
}
