import { requirePositiveInteger } from "./checks.js";
import { decodeJobs, decodeLookup, decodeProgress, encodeUpdate } from "./codec.js";
import { scriptedExternalUriIndex } from "./external-uri-index.js";
import { scriptedJobIndex } from "./job-index.js";
import { escapeId, jobField, jobIdOfField, jobSetKeys, RESERVED_FIELDS } from "./keys.js";
import { LEASE_SCRIPT, READ_JOB_SET_SCRIPT, READ_JOBS_SCRIPT, READ_SCRIPT, RELEASE_SCRIPT, WRITE_OUTCOME, WRITE_SCRIPT, type ScriptRunner } from "./scripts.js";
import { refusal, requireJobIds } from "./refusal.js";
import type { JobSetKey, JobSetLookup, JobStore, Lease } from "./store.js";

/** What a Redis-protocol backend must offer; everything else is shared. */
export interface ScriptBackend {
  readonly run: ScriptRunner;
  /** Runs the write script where writes must reach replicas before they count; `run` when absent. */
  readonly runWrite?: ScriptRunner;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A JobStore over Redis data structures, reached only through the shared Lua
 * scripts: one atomic round trip per operation whatever carries it (a single
 * Redis, Upstash's REST API, or a Cluster client: every script touches the
 * keys of one job set only, which share a hash slot).
 */
export function createScriptedStore(backend: ScriptBackend, options: { ttlSeconds: number }): JobStore {
  requirePositiveInteger("ttlSeconds", options.ttlSeconds);
  const ttl = String(options.ttlSeconds);
  let closed = false;
  const whileOpen = <T>(call: () => Promise<T>): Promise<T> => (closed ? Promise.reject(new Error("the store is closed")) : call());
  const run: ScriptRunner = (script, keys, args) => whileOpen(() => backend.run(script, keys, args));
  const runWrite: ScriptRunner = backend.runWrite ? (script, keys, args) => whileOpen(() => backend.runWrite!(script, keys, args)) : run;
  return {
    async read(key) {
      const keys = jobSetKeys(key);
      const reply = await run(READ_SCRIPT, [keys.jobs], [jobField(key.jobId)]);
      const [job, progress] = expectValues(READ_SCRIPT.name, reply, 2);
      return decodeLookup(key, job, progress);
    },
    async readJobs(jobSet, jobIds) {
      if (jobIds.length === 0) return new Map();
      const reply = await run(READ_JOBS_SCRIPT, [jobSetKeys(jobSet).jobs], jobIds.map(jobField));
      return decodeJobs(jobSet, jobIds, expectValues(READ_JOBS_SCRIPT.name, reply, jobIds.length));
    },
    async readJobSet(jobSet, jobIds) {
      const args = jobIds === undefined ? ["all"] : ["some", ...jobIds.map(jobField)];
      const reply = await run(READ_JOB_SET_SCRIPT, [jobSetKeys(jobSet).jobs], args);
      return decodeJobSet(jobSet, jobIds, reply);
    },
    async readProgress(jobSet) {
      // The job set script with no ids listed answers the progress alone.
      const reply = await run(READ_JOB_SET_SCRIPT, [jobSetKeys(jobSet).jobs], ["some"]);
      return decodeJobSet(jobSet, [], reply).progress;
    },
    async write(jobSet, update, guard) {
      requireJobIds(jobSet, update.jobs.keys());
      const encoded = encodeUpdate(update);
      const fence = fenceArgument(guard.fence);
      const args = [ttl, encoded.progress, update.progress.cursor, guard.expected === undefined ? "0" : "1", guard.expected ?? "", fence];
      for (const [jobId, value] of encoded.jobs) args.push(jobField(jobId), value);
      const outcome = await runWrite(WRITE_SCRIPT, [jobSetKeys(jobSet).jobs], args);
      if (outcome === WRITE_OUTCOME.written) return;
      if (outcome === WRITE_OUTCOME.stale) throw refusal("stale", jobSet, guard);
      if (outcome === WRITE_OUTCOME.fenced) throw refusal("fenced", jobSet, guard);
      throw unexpectedReply(WRITE_SCRIPT.name, outcome);
    },
    async lease(jobSet, owner, ttlMs) {
      requirePositiveInteger("lease ttlMs", ttlMs);
      const keys = jobSetKeys(jobSet);
      const reply = await run(LEASE_SCRIPT, [keys.lease, keys.jobs], [escapeId(owner), String(ttlMs), ttl]);
      return expectLease(reply);
    },
    async release(jobSet, owner) {
      const reply = await run(RELEASE_SCRIPT, [jobSetKeys(jobSet).lease], [escapeId(owner)]);
      expectFlag(RELEASE_SCRIPT.name, reply);
    },
    ping: () => whileOpen(() => backend.ping()),
    ...scriptedJobIndex(run, ttl),
    ...scriptedExternalUriIndex(run, ttl),
    async close() {
      if (closed) return;
      closed = true;
      await backend.close();
    },
  };
}

function expectValues(script: string, reply: unknown, count: number): (string | null)[] {
  if (Array.isArray(reply) && reply.length === count && reply.every((item) => item === null || typeof item === "string")) {
    return reply as (string | null)[];
  }
  throw unexpectedReply(script, reply);
}

function decodeJobSet(jobSet: JobSetKey, jobIds: readonly string[] | undefined, reply: unknown): JobSetLookup {
  const name = READ_JOB_SET_SCRIPT.name;
  if (jobIds !== undefined) {
    const [progress = null, ...values] = expectValues(name, reply, jobIds.length + 1);
    return { jobs: decodeJobs(jobSet, jobIds, values), ...(progress === null ? {} : { progress: decodeProgress(progress) }) };
  }
  if (!Array.isArray(reply) || reply.length % 2 !== 0) throw unexpectedReply(name, reply);
  const pairs = expectValues(name, reply, reply.length);
  const reserved: ReadonlySet<string> = new Set(Object.values(RESERVED_FIELDS));
  const ids: string[] = [];
  const found: (string | null)[] = [];
  let progress: string | null = null;
  for (let i = 0; i < pairs.length; i += 2) {
    const field = pairs[i] ?? "";
    if (field === RESERVED_FIELDS.progress) progress = pairs[i + 1] ?? null;
    if (reserved.has(field)) continue;
    ids.push(jobIdOfField(field));
    found.push(pairs[i + 1] ?? null);
  }
  return { jobs: decodeJobs(jobSet, ids, found), ...(progress === null ? {} : { progress: decodeProgress(progress) }) };
}

const TOKEN = /^[1-9][0-9]{0,15}$/;

function expectLease(reply: unknown): Lease | undefined {
  if (reply === 0) return undefined;
  if (Array.isArray(reply) && reply.length === 4 && typeof reply[0] === "string" && TOKEN.test(reply[0]) && (reply[1] === 0 || reply[1] === 1)) {
    const fence = Number(reply[0]);
    const [, , cursor, written] = reply as unknown[];
    const holds = typeof cursor === "string" ? { cursor, fence: typeof written === "string" && TOKEN.test(written) ? Number(written) : 0 } : undefined;
    if (Number.isSafeInteger(fence)) return { fence, stored: reply[1] === 1, ...(holds && { holds }) };
  }
  throw unexpectedReply(LEASE_SCRIPT.name, reply);
}

/** Tokens travel as decimal text; only whole numbers Lua's doubles hold exactly are valid. */
function fenceArgument(fence: number): string {
  if (!Number.isSafeInteger(fence) || fence < 0) throw new Error(`a write's fencing token must be a non-negative integer, got ${String(fence)}`);
  return String(fence);
}

function expectFlag(script: string, reply: unknown): boolean {
  if (reply === 0 || reply === 1) return reply === 1;
  throw unexpectedReply(script, reply);
}

function unexpectedReply(script: string, reply: unknown): Error {
  return new Error(`unexpected reply to the ${script} script: ${JSON.stringify(reply)?.slice(0, 200)}`);
}
