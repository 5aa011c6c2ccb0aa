import { escapeId, jobSetTag } from "./keys.js";
import type { LuaScript, ScriptRunner } from "./scripts.js";
import type { JobSetKey } from "./store.js";

/**
 * The external-job-URI index: which jobs of a job set carry an external job
 * URI (the annotation Armada's Airflow operator sets, and asks for again when
 * it reattaches). Like the job-id index its entries are facts that never
 * change (a job's annotations are fixed at submit), so it only ever adds ids:
 * writing one again is harmless and no entry can take an answer back in time.
 * An entry expires like a job set, `ttl` after its last write.
 */
export interface ExternalUriIndex {
  /** Records each job's external job URI (job id → URI) in `jobSet`. */
  indexExternalJobUris(jobSet: JobSetKey, uris: ReadonlyMap<string, string>): Promise<void>;
  /** The ids of the jobs of `jobSet` indexed under `uri`; empty when none are. */
  jobIdsOfExternalUri(jobSet: JobSetKey, uri: string): Promise<string[]>;
}

/**
 * One set per URI, `jobservice:uri:{<escaped queue>:<escaped job set>:<escaped URI>}` → job ids:
 * the whole name is its Cluster hash tag, so each entry is one single-slot command.
 */
export function externalUriKey(jobSet: JobSetKey, uri: string): string {
  return `jobservice:uri:{${jobSetTag(jobSet)}:${escapeId(uri)}}`;
}

/** Job ids per URI, from job id → URI. */
function byUri(uris: ReadonlyMap<string, string>): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (const [jobId, uri] of uris) grouped.set(uri, [...(grouped.get(uri) ?? []), jobId]);
  return grouped;
}

/** KEYS: entry key. ARGV: ttl seconds, job ids... */
const ADD_SCRIPT: LuaScript = {
  name: "indexExternalUri",
  source: "redis.call('SADD', KEYS[1], unpack(ARGV, 2)) return redis.call('EXPIRE', KEYS[1], ARGV[1])",
};
/** KEYS: entry key. */
const MEMBERS_SCRIPT: LuaScript = { name: "jobIdsOfExternalUri", source: "return redis.call('SMEMBERS', KEYS[1])" };
// Lua's unpack() is bounded by the C stack, so a long id list goes in parts.
const CHUNK = 1000;

/** The index over the Redis-protocol backends. */
export function scriptedExternalUriIndex(run: ScriptRunner, ttlSeconds: string): ExternalUriIndex {
  return {
    async indexExternalJobUris(jobSet, uris) {
      const calls: Promise<unknown>[] = [];
      for (const [uri, ids] of byUri(uris)) {
        for (let i = 0; i < ids.length; i += CHUNK) calls.push(run(ADD_SCRIPT, [externalUriKey(jobSet, uri)], [ttlSeconds, ...ids.slice(i, i + CHUNK)]));
      }
      await Promise.all(calls);
    },
    async jobIdsOfExternalUri(jobSet, uri) {
      const reply = await run(MEMBERS_SCRIPT, [externalUriKey(jobSet, uri)], []);
      return Array.isArray(reply) ? reply.filter((id): id is string => typeof id === "string").sort() : [];
    },
  };
}

/** The index inside the memory store, with the same expiry. */
export function memoryExternalUriIndex(ttlMs: number, now: () => number): ExternalUriIndex & { sweep(): void } {
  const entries = new Map<string, { readonly ids: Set<string>; expiresAt: number }>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry === undefined || entry.expiresAt > now()) return entry;
    entries.delete(key);
    return undefined;
  };
  return {
    async indexExternalJobUris(jobSet, uris) {
      for (const [uri, ids] of byUri(uris)) {
        const key = externalUriKey(jobSet, uri);
        const entry = live(key) ?? { ids: new Set<string>(), expiresAt: 0 };
        for (const id of ids) entry.ids.add(id);
        entry.expiresAt = now() + ttlMs;
        entries.set(key, entry);
      }
    },
    async jobIdsOfExternalUri(jobSet, uri) {
      return [...(live(externalUriKey(jobSet, uri))?.ids ?? [])].sort();
    },
    sweep() {
      for (const [key, entry] of entries) if (entry.expiresAt <= now()) entries.delete(key);
    },
  };
}
