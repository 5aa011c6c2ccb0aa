import { create } from "@bufbuild/protobuf";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  FreshnessSchema,
  JobDetails_State as FineState,
  JobDetailsSchema,
  JobServiceResponse_State as State,
  JobServiceResponseSchema,
  type Freshness,
  type JobDetails,
} from "../gen/jobservice/jobservice_pb.js";
import type { JobLookup, JobRecord, JobSetProgress } from "../store/store.js";
import { answerFor } from "./answer.js";

/**
 * Armada's finer state, as its Query API names it, from what the record
 * keeps. Events that carry no state (reprioritised, cancelling, …) leave the
 * v1 state as it was, so a job that is neither leased nor pending by its last
 * event counts as queued. A preemption ends as a failure with reason
 * "preempted"; a rejection as a failure with cause Rejected.
 */
export function fineStateOf(record: JobRecord | undefined): FineState {
  if (record === undefined) return FineState.UNSPECIFIED;
  switch (record.state) {
    case State.SUCCEEDED:
      return FineState.SUCCEEDED;
    case State.CANCELLED:
      return FineState.CANCELLED;
    case State.RUNNING:
      return FineState.RUNNING;
    case State.FAILED:
      if (record.cause === "Rejected") return FineState.REJECTED;
      if (/^preempted\b/i.test(record.error)) return FineState.PREEMPTED;
      return FineState.FAILED;
    case State.SUBMITTED:
      if (record.lastEvent === "leased") return FineState.LEASED;
      if (record.lastEvent === "pending") return FineState.PENDING;
      return FineState.QUEUED;
    case State.CONNECTION_ERR:
    case State.DUPLICATE_FOUND:
    case State.JOB_ID_NOT_FOUND:
    default:
      return FineState.UNSPECIFIED;
  }
}

function timestamp(ms: number | undefined): Timestamp | undefined {
  return ms === undefined ? undefined : timestampFromMs(Math.round(ms));
}

/** How fresh answers from this progress are; all zero for a job set nobody has written yet. */
export function freshnessOf(progress: JobSetProgress | undefined): Freshness {
  if (progress === undefined) return create(FreshnessSchema, {});
  return create(FreshnessSchema, {
    cursor: progress.cursor,
    lastHeardAt: progress.updatedAt > 0 ? timestamp(progress.updatedAt) : undefined,
    healthy: progress.caughtUp && progress.error === "",
    error: progress.error,
    caughtUp: progress.caughtUp,
  });
}

/** GetJobDetails' answer: the v1 answer, the record's detail and the job set's freshness. */
export function detailsFor(lookup: JobLookup): JobDetails {
  const job = lookup.job;
  return create(JobDetailsSchema, {
    status: create(JobServiceResponseSchema, answerFor(lookup)),
    state: fineStateOf(job),
    submittedAt: timestamp(job?.submittedAt),
    startedAt: timestamp(job?.startedAt),
    finishedAt: timestamp(job?.finishedAt),
    cluster: job?.cluster ?? "",
    node: job?.node ?? "",
    exitCode: job?.exitCode,
    failureCause: job?.cause ?? "",
    failureReason: job?.state === State.FAILED ? job.error : "",
    runAttempts: job?.runAttempts ?? 0,
    lastMessageId: job?.messageId ?? "",
    lastEvent: job?.lastEvent ?? "",
    freshness: freshnessOf(lookup.progress),
  });
}
