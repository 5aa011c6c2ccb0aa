import { Code, ConnectError } from "@connectrpc/connect";
import { JobServiceResponse_State as State } from "../gen/jobservice/jobservice_pb.js";
import { CorruptValue } from "../store/codec.js";
import type { JobKey, JobLookup, JobSetKey, JobSetLookup, JobStoreReader } from "../store/store.js";

export interface JobAnswer {
  readonly state: State;
  readonly error: string;
}

const TERMINAL: ReadonlySet<State> = new Set([State.SUCCEEDED, State.FAILED, State.CANCELLED, State.DUPLICATE_FOUND]);

export function isTerminal(state: State): boolean {
  return TERMINAL.has(state);
}

/**
 * The v1 answer for what the store holds. A terminal state always wins: a
 * failing subscription cannot change a finished job. Otherwise a subscription
 * error is reported as CONNECTION_ERR so callers keep polling and see why.
 * JOB_ID_NOT_FOUND is only said when the store holds the job set, read to
 * the end of its backlog, without the job: before that, or when the store
 * holds nothing for the job set (never written, or lost), absence proves
 * nothing.
 */
export function answerFor(lookup: JobLookup): JobAnswer {
  const { job, progress } = lookup;
  if (job && isTerminal(job.state)) return { state: job.state, error: job.error };
  if (progress?.error) return { state: State.CONNECTION_ERR, error: progress.error };
  if (job) return { state: job.state, error: job.error };
  if (!progress) return { state: State.CONNECTION_ERR, error: NOTHING_STORED };
  if (!progress.caughtUp) return { state: State.CONNECTION_ERR, error: "still reading the job set's event history from Armada" };
  return { state: State.JOB_ID_NOT_FOUND, error: "" };
}

export const NOTHING_STORED = "the store holds nothing for this job set (not read yet, or lost and being rebuilt from Armada's history)";

/**
 * A store read for a call. A store that does not answer is the caller's
 * UNAVAILABLE (retry later), with the store's own message, which names it; a
 * value the store holds but this build cannot read is INTERNAL.
 */
export async function readForCall<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof CorruptValue) throw new ConnectError(message, Code.Internal, undefined, undefined, err);
    throw new ConnectError(`store unavailable: ${message}`, Code.Unavailable, undefined, undefined, err);
  }
}

/** One job and its job set's progress, for a call. */
export function lookUp(store: JobStoreReader, key: JobKey): Promise<JobLookup> {
  return readForCall(() => store.read(key));
}

/** Jobs of one job set (the listed ids, or all) and its progress, for a call. */
export function lookUpJobSet(store: JobStoreReader, jobSet: JobSetKey, jobIds: readonly string[] | undefined): Promise<JobSetLookup> {
  return readForCall(() => store.readJobSet(jobSet, jobIds));
}

/**
 * The call an answer is for. Its signal ends a wait for a job set still being
 * read, and is read only when there is such a wait: on the hot path nothing
 * waits, and making a call's signal is a real share of what a cheap read costs.
 */
export interface ForCall {
  readonly signal: AbortSignal;
}

/**
 * Where GetJobStatus gets its answers. The subscriber implements it (starting
 * and awaiting subscriptions); without one, the store alone answers.
 */
export interface JobStatusSource {
  status(key: JobKey, call: ForCall): Promise<JobAnswer>;
  /** Whether the job set is already followed, so that reading it starts nothing new. */
  follows?(jobSet: JobSetKey): boolean;
  /**
   * Jobs of one job set (the listed ids, or all when undefined) with the
   * progress `status` would judge them by, from one store round trip, so
   * `answerFor` gives each exactly what `status` would. Starts or keeps the
   * job set's subscription like `status`.
   */
  lookup(jobSet: JobSetKey, jobIds: readonly string[] | undefined, call: ForCall): Promise<JobSetLookup>;
}

/** The status source that only reads what the store already holds. */
export function storeStatus(store: JobStoreReader): JobStatusSource {
  return {
    status: async (key) => answerFor(await lookUp(store, key)),
    lookup: (jobSet, jobIds) => lookUpJobSet(store, jobSet, jobIds),
  };
}

/** The lookup of one job out of its job set's. */
export function jobLookupOf(lookup: JobSetLookup, jobId: string): JobLookup {
  const job = lookup.jobs.get(jobId);
  return { ...(job && { job }), ...(lookup.progress && { progress: lookup.progress }) };
}
