import { JobServiceResponse_State as State } from "../gen/jobservice/jobservice_pb.js";
import type { JobKey, JobLookup, JobSetKey, JobSetLookup } from "../store/store.js";

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
 * JOB_ID_NOT_FOUND is only said once the job set's backlog has been applied:
 * before that, absence proves nothing.
 */
export function answerFor(lookup: JobLookup): JobAnswer {
  const { job, progress } = lookup;
  if (job && isTerminal(job.state)) return { state: job.state, error: job.error };
  if (progress?.error) return { state: State.CONNECTION_ERR, error: progress.error };
  if (job) return { state: job.state, error: job.error };
  if (progress && !progress.caughtUp) {
    return { state: State.CONNECTION_ERR, error: "still reading the job set's event history from Armada" };
  }
  return { state: State.JOB_ID_NOT_FOUND, error: "" };
}

/**
 * Where GetJobStatus gets its answers. The subscriber implements it (starting
 * and awaiting subscriptions); without one, the store alone answers.
 */
export interface JobStatusSource {
  status(key: JobKey, signal: AbortSignal): Promise<JobAnswer>;
  /** Whether the job set is already followed, so that reading it starts nothing new. */
  follows?(jobSet: JobSetKey): boolean;
  /**
   * Jobs of one job set (the listed ids, or all when undefined) with the
   * progress `status` would judge them by, from one store round trip, so
   * `answerFor` gives each exactly what `status` would. Starts or keeps the
   * job set's subscription like `status`.
   */
  lookup(jobSet: JobSetKey, jobIds: readonly string[] | undefined, signal: AbortSignal): Promise<JobSetLookup>;
}

/** The lookup of one job out of its job set's. */
export function jobLookupOf(lookup: JobSetLookup, jobId: string): JobLookup {
  const job = lookup.jobs.get(jobId);
  return { ...(job && { job }), ...(lookup.progress && { progress: lookup.progress }) };
}
