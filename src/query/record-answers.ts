import { JobState } from "../gen/api/job_pb.js";
import type { JobRecord } from "../store/store.js";

const FAILURE_STATES: ReadonlySet<JobState> = new Set([JobState.FAILED, JobState.PREEMPTED, JobState.REJECTED]);

/** Armada's JobState of a stored job; undefined for a record written before the service kept it (ask Armada). */
export function armadaStateOf(record: JobRecord): JobState | undefined {
  return record.armadaState as JobState | undefined;
}

/**
 * The text Armada's GetJobErrors gives for a stored job: the failure's own
 * reason, without the exit code and cause the job service's answer adds to
 * it (failureText in event-to-record.ts builds that suffix from the record's
 * own fields, so it comes off exactly). "" for a job that did not fail.
 */
export function armadaErrorOf(record: JobRecord): string {
  const state = armadaStateOf(record);
  if (state === undefined || !FAILURE_STATES.has(state)) return "";
  const details = [
    ...(record.exitCode !== undefined ? [`exit code ${record.exitCode}`] : []),
    ...(record.cause !== undefined ? [`cause ${record.cause}`] : []),
  ];
  const suffix = details.length > 0 ? ` (${details.join(", ")})` : "";
  const reason = suffix !== "" && record.error.endsWith(suffix) ? record.error.slice(0, -suffix.length) : record.error;
  // failureText says "job failed" for a failure without a reason; Armada says nothing.
  return reason === "job failed" ? "" : reason;
}
