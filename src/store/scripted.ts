import { requirePositiveInteger } from "./checks.js";
import { decodeJobs, decodeLookup, decodeProgress, encodeUpdate } from "./codec.js";
import { escapeId, jobField, jobIdOfField, jobSetKeys } from "./keys.js";
import { LEASE_SCRIPT, READ_JOB_SET_SCRIPT, READ_JOBS_SCRIPT, READ_SCRIPT, RELEASE_SCRIPT, WRITE_SCRIPT, type ScriptRunner } from "./scripts.js";
import type { JobSetKey, JobSetLookup, JobStore } from "./store.js";

/** What a Redis-protocol backend must offer; everything else is shared. */
export interface ScriptBackend {
  readonly run: ScriptRunner;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A JobStore over Redis data structures, reached only through the shared Lua
 * scripts: one atomic round trip per operation whatever carries it.
 */
export function createScriptedStore(backend: ScriptBackend, options: { ttlSeconds: number }): JobStore {
  requirePositiveInteger("ttlSeconds", options.ttlSeconds);
  const ttl = String(options.ttlSeconds);
  let closed = false;
  const whileOpen = <T>(call: () => Promise<T>): Promise<T> => (closed ? Promise.reject(new Error("the store is closed")) : call());
  const run: ScriptRunner = (script, keys, args) => whileOpen(() => backend.run(script, keys, args));
  return {
    async read(key) {
      const keys = jobSetKeys(key);
      const reply = await run(READ_SCRIPT, [keys.jobs, keys.progress], [jobField(key.jobId)]);
      const [job, progress] = expectValues(READ_SCRIPT.name, reply, 2);
      return decodeLookup(key, job, progress);
    },
    async readJobs(jobSet, jobIds) {
      if (jobIds.length === 0) return new Map();
      const reply = await run(READ_JOBS_SCRIPT, [jobSetKeys(jobSet).jobs], jobIds.map(jobField));
      return decodeJobs(jobSet, jobIds, expectValues(READ_JOBS_SCRIPT.name, reply, jobIds.length));
    },
    async readJobSet(jobSet, jobIds) {
      const keys = jobSetKeys(jobSet);
      const args = jobIds === undefined ? ["all"] : ["some", ...jobIds.map(jobField)];
      const reply = await run(READ_JOB_SET_SCRIPT, [keys.jobs, keys.progress], args);
      return decodeJobSet(jobSet, jobIds, reply);
    },
    async write(jobSet, update) {
      const encoded = encodeUpdate(update);
      const keys = jobSetKeys(jobSet);
      const args = [ttl, encoded.progress];
      for (const [jobId, value] of encoded.jobs) args.push(jobField(jobId), value);
      await run(WRITE_SCRIPT, [keys.jobs, keys.progress], args);
    },
    async lease(jobSet, owner, ttlMs) {
      requirePositiveInteger("lease ttlMs", ttlMs);
      const keys = jobSetKeys(jobSet);
      const reply = await run(LEASE_SCRIPT, [keys.lease, keys.jobs, keys.progress], [escapeId(owner), String(ttlMs), ttl]);
      return expectFlag(LEASE_SCRIPT.name, reply);
    },
    async release(jobSet, owner) {
      const reply = await run(RELEASE_SCRIPT, [jobSetKeys(jobSet).lease], [escapeId(owner)]);
      expectFlag(RELEASE_SCRIPT.name, reply);
    },
    ping: () => whileOpen(() => backend.ping()),
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
  if (!Array.isArray(reply) || reply.length !== 2) throw unexpectedReply(name, reply);
  const [progress, values] = reply as [unknown, unknown];
  if (progress !== null && typeof progress !== "string") throw unexpectedReply(name, reply);
  const withProgress = progress === null ? {} : { progress: decodeProgress(progress) };
  if (jobIds !== undefined) return { jobs: decodeJobs(jobSet, jobIds, expectValues(name, values, jobIds.length)), ...withProgress };
  if (!Array.isArray(values) || values.length % 2 !== 0) throw unexpectedReply(name, reply);
  const pairs = expectValues(name, values, values.length);
  const ids: string[] = [];
  const found: (string | null)[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    ids.push(jobIdOfField(pairs[i] ?? ""));
    found.push(pairs[i + 1] ?? null);
  }
  return { jobs: decodeJobs(jobSet, ids, found), ...withProgress };
}

function expectFlag(script: string, reply: unknown): boolean {
  if (reply === 0 || reply === 1) return reply === 1;
  throw unexpectedReply(script, reply);
}

function unexpectedReply(script: string, reply: unknown): Error {
  return new Error(`unexpected reply to the ${script} script: ${JSON.stringify(reply)?.slice(0, 200)}`);
}
