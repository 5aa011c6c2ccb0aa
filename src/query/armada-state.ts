import { Cause } from "../gen/api/event_pb.js";
import { JobState } from "../gen/api/job_pb.js";
import type { JobEvent } from "../armada/decode-event.js";
import { isTerminal, lookoutIgnores } from "./query-job.js";

/**
 * Armada's JobState (as its Query API reports it from Lookout) after one more
 * of the job's events: the same rules as the full fold in query-job.ts, over
 * the few fields the subscriber decodes. `previous` is undefined for a job
 * not seen yet; events that change nothing keep it, and nothing moves a
 * terminal state.
 */
export function armadaStateAfter(previous: JobState | undefined, event: JobEvent): JobState | undefined {
  // A preemption is final only once the run's failure says it will not be retried.
  const retriedPreemption = previous === JobState.PREEMPTED && event.case === "failed";
  if (previous !== undefined && isTerminal(previous) && !retriedPreemption) return previous;
  if (lookoutIgnores(event.case)) return previous;
  switch (event.case) {
    case "submitted":
    case "leaseReturned":
    case "leaseExpired":
      return JobState.QUEUED;
    case "queued":
      return previous ?? JobState.QUEUED;
    case "leased":
      return JobState.LEASED;
    case "pending":
      return JobState.PENDING;
    case "running":
      return JobState.RUNNING;
    case "succeeded":
      return JobState.SUCCEEDED;
    case "cancelled":
      return JobState.CANCELLED;
    case "preempted":
      return JobState.PREEMPTED;
    case "failed": {
      const failure = event.failure;
      if (failure?.cause === Cause.Rejected) return JobState.REJECTED;
      if (failure?.retryable) return JobState.QUEUED;
      // A preemption is followed by the run's failure; Lookout keeps PREEMPTED.
      return previous === JobState.PREEMPTED ? JobState.PREEMPTED : JobState.FAILED;
    }
    // Adds a run's addresses, which this state-only fold does not keep.
    case "ingressInfo":
      return previous;
  }
}
