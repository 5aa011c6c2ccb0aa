import { create } from "@bufbuild/protobuf";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ActiveQueuesSchema,
  JobDetailsSchema,
  JobRunDetailsSchema,
  JobRunState,
  JobState,
  type GetActiveQueuesResponse,
  type JobDetails,
  type JobRunDetails,
} from "../gen/api/job_pb.js";
import type { QueryJob, QueryRun } from "./query-job.js";

/** Armada's default for its Query API's `maxQueryItems`. */
export const MAX_QUERY_ITEMS = 500;

/** Armada answers an oversized request with a plain error, which gRPC carries as UNKNOWN. */
export function checkQuerySize(count: number, what: "jobIds" | "JobIds" | "RunIds"): void {
  if (count > MAX_QUERY_ITEMS) throw new ConnectError(`request contained more than ${MAX_QUERY_ITEMS} ${what}`, Code.Unknown);
}

/** Every asked id with its state; ids nobody knows are UNKNOWN, as in Armada. */
export function jobStates(ids: readonly string[], jobs: ReadonlyMap<string, QueryJob>): Record<string, JobState> {
  const states: Record<string, JobState> = {};
  for (const id of ids) states[id] = jobs.get(id)?.state ?? JobState.UNKNOWN;
  return states;
}

/** Known jobs only; runs newest lease first, as Armada orders them. */
export function jobDetails(jobs: ReadonlyMap<string, QueryJob>, expand: { readonly jobSpec: boolean; readonly jobRun: boolean }): Record<string, JobDetails> {
  const details: Record<string, JobDetails> = {};
  for (const job of jobs.values()) {
    const latestRunId = job.runs.at(-1)?.runId ?? "";
    details[job.jobId] = create(JobDetailsSchema, {
      jobId: job.jobId,
      queue: job.queue,
      jobset: job.jobSetId,
      namespace: job.namespace,
      state: job.state,
      submittedTs: stamp(job.submittedMs),
      cancelTs: stamp(job.cancelMs),
      cancelReason: job.cancelReason,
      cancelUser: job.cancelUser,
      lastTransitionTs: stamp(job.lastTransitionMs),
      latestRunId,
      jobSpec: expand.jobSpec ? job.spec : undefined,
      jobRuns: expand.jobRun && latestRunId !== "" ? job.runs.map((run) => runDetails(job.jobId, run)).reverse() : [],
    });
  }
  return details;
}

/** Known jobs only: the rejection, else the latest run's error, else "". */
export function jobErrors(jobs: ReadonlyMap<string, QueryJob>): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const job of jobs.values()) errors[job.jobId] = job.jobError || (job.runs.at(-1)?.error ?? "");
  return errors;
}

/** The asked runs that are known, by run id. */
export function runDetailsById(runIds: readonly string[], jobs: Iterable<QueryJob>): Record<string, JobRunDetails> {
  const wanted = new Set(runIds);
  const found: Record<string, JobRunDetails> = {};
  for (const job of jobs) {
    for (const run of job.runs) if (run.runId !== "" && wanted.has(run.runId)) found[run.runId] = runDetails(job.jobId, run);
  }
  return found;
}

export function requireExternalJobUri(uri: string): void {
  if (uri === "") throw new ConnectError("request must contain external job uri", Code.Unknown);
}

const ACTIVE_JOB: ReadonlySet<JobState> = new Set([JobState.PENDING, JobState.RUNNING, JobState.LEASED]);
const ACTIVE_RUN: ReadonlySet<JobRunState> = new Set([JobRunState.RUN_STATE_PENDING, JobRunState.RUN_STATE_RUNNING, JobRunState.RUN_STATE_LEASED]);

/** Queues with a leased, pending or running job, by pool (every run is in `pool`: events do not name one). */
export function activeQueues(jobs: Iterable<QueryJob>, pool: string): GetActiveQueuesResponse["activeQueuesByPool"] {
  const queues = new Set<string>();
  for (const job of jobs) {
    if (ACTIVE_JOB.has(job.state) && job.runs.some((run) => ACTIVE_RUN.has(run.state))) queues.add(job.queue);
  }
  if (queues.size === 0) return {};
  return { [pool]: create(ActiveQueuesSchema, { queues: [...queues].sort() }) };
}

function runDetails(jobId: string, run: QueryRun): JobRunDetails {
  return create(JobRunDetailsSchema, {
    runId: run.runId,
    jobId,
    state: run.state,
    cluster: run.cluster,
    node: run.node,
    leasedTs: stamp(run.leasedMs),
    pendingTs: stamp(run.pendingMs),
    startedTs: stamp(run.startedMs),
    finishedTs: stamp(run.finishedMs),
    ingressAddresses: { ...run.ingressAddresses },
  });
}

function stamp(ms: number | undefined): Timestamp | undefined {
  return ms === undefined ? undefined : timestampFromMs(ms);
}
