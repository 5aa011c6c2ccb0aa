import { Cause } from "../gen/api/event_pb.js";
import { JobServiceResponse_State as State } from "../gen/jobservice/jobservice_pb.js";
import { armadaStateAfter } from "../query/armada-state.js";
import { isTerminal } from "../answers/answer.js";
import type { JobRecord } from "../store/store.js";
import type { EventCase, FailureDetail, JobEvent } from "../armada/decode-event.js";

/** Armada's wire names of the event cases, as stored in `JobRecord.lastEvent` and metric labels. */
export const EVENT_NAMES: Readonly<Record<EventCase, string>> = {
  submitted: "submitted",
  queued: "queued",
  leased: "leased",
  leaseReturned: "lease_returned",
  leaseExpired: "lease_expired",
  pending: "pending",
  running: "running",
  unableToSchedule: "unable_to_schedule",
  failed: "failed",
  succeeded: "succeeded",
  reprioritized: "reprioritized",
  cancelling: "cancelling",
  cancelled: "cancelled",
  terminated: "terminated",
  utilisation: "utilisation",
  duplicateFound: "duplicate_found",
  ingressInfo: "ingress_info",
  reprioritizing: "reprioritizing",
  preempted: "preempted",
  preempting: "preempting",
};

const NUMERIC_ID = /^\d+(?::\d+)*$/;

/**
 * Whether message id `next` comes after `previous`. Ids are opaque, but
 * Armada's current format ("<millis>:<seq>:<sub>:<last>") orders numerically
 * segment by segment; for any other shape only an equal id is known to be a
 * re-delivery.
 */
export function comesAfter(next: string, previous: string): boolean {
  if (previous === "") return true;
  if (next === previous) return false;
  if (!NUMERIC_ID.test(next) || !NUMERIC_ID.test(previous)) return true;
  return compareNumericIds(next, previous) > 0;
}

/**
 * Compares two numeric ids segment by segment without splitting or parsing
 * them (this runs for every event): in each segment the longer number,
 * leading zeros aside, is larger, else the first differing digit decides; an
 * absent segment is the smallest.
 */
function compareNumericIds(a: string, b: string): number {
  let i = 0;
  let j = 0;
  for (;;) {
    const aDone = i > a.length;
    const bDone = j > b.length;
    if (aDone || bDone) return aDone === bDone ? 0 : aDone ? -1 : 1;
    const aEnd = segmentEnd(a, i);
    const bEnd = segmentEnd(b, j);
    while (i < aEnd - 1 && a.charCodeAt(i) === ZERO) i++;
    while (j < bEnd - 1 && b.charCodeAt(j) === ZERO) j++;
    if (aEnd - i !== bEnd - j) return aEnd - i - (bEnd - j);
    for (; i < aEnd; i++, j++) {
      const order = a.charCodeAt(i) - b.charCodeAt(j);
      if (order !== 0) return order;
    }
    i = aEnd + 1;
    j = bEnd + 1;
  }
}

const ZERO = 48;

function segmentEnd(id: string, from: number): number {
  const colon = id.indexOf(":", from);
  return colon < 0 ? id.length : colon;
}

/** The container exit code that explains a failure: the first non-zero one. */
function exitCodeOf(failure: FailureDetail): number | undefined {
  const fromContainers = failure.containers.find((c) => c.exitCode !== 0)?.exitCode;
  if (fromContainers !== undefined) return fromContainers;
  return failure.exitCodes.find((code) => code !== 0);
}

/**
 * Armada's cause, from the event or else from a container. `Error` is the
 * proto3 default, so it is indistinguishable from "not said" and never named.
 */
function causeOf(failure: FailureDetail): string | undefined {
  const cause = failure.cause !== Cause.Error ? failure.cause : failure.containers.find((c) => c.cause !== Cause.Error)?.cause;
  return cause === undefined ? undefined : (Cause[cause] ?? `cause ${cause}`);
}

/** The v1 `error` text of a failure: Armada's reason, then exit code and cause when known. */
export function failureText(failure: FailureDetail): string {
  const exitCode = exitCodeOf(failure);
  const cause = causeOf(failure);
  const details = [...(exitCode !== undefined ? [`exit code ${exitCode}`] : []), ...(cause !== undefined ? [`cause ${cause}`] : [])];
  const reason = failure.reason.trim() || "job failed";
  return details.length > 0 ? `${reason} (${details.join(", ")})` : reason;
}

const NEW_JOB: JobRecord = { state: State.SUBMITTED, error: "", lastEvent: "", messageId: "", runAttempts: 0 };

/**
 * The job's record after one event, or `previous` itself when the event
 * changes nothing: an unknown case, a re-delivered message, or anything after
 * a terminal state (a retryable failure is not terminal, so its retry
 * applies). Events that carry no state (reprioritised, utilisation, …) still
 * prove the job exists, so they create a SUBMITTED record for an unseen job.
 */
export function applyEvent(previous: JobRecord | undefined, messageId: string, event: JobEvent | undefined): JobRecord | undefined {
  if (event === undefined) return previous;
  if (previous && (isTerminal(previous.state) || !comesAfter(messageId, previous.messageId))) return previous;
  const base = previous ?? NEW_JOB;
  // Every record is built with all its fields in one order, so the records
  // of a job set share one shape and the code that reads them stays fast.
  const next = {
    state: base.state,
    error: base.error,
    lastEvent: EVENT_NAMES[event.case],
    messageId,
    submittedAt: base.submittedAt,
    startedAt: base.startedAt,
    finishedAt: base.finishedAt,
    cluster: base.cluster,
    node: base.node,
    exitCode: base.exitCode,
    cause: base.cause,
    runAttempts: base.runAttempts,
    armadaState: armadaStateAfter(base.armadaState, event),
  };
  const at = event.createdMs;
  switch (event.case) {
    case "submitted":
      next.state = State.SUBMITTED;
      next.submittedAt = at ?? next.submittedAt;
      break;
    case "queued":
      next.state = State.SUBMITTED;
      next.submittedAt = next.submittedAt ?? at;
      break;
    case "leased":
      next.state = State.SUBMITTED;
      next.cluster = nonEmpty(event.clusterId) ?? next.cluster;
      next.runAttempts++;
      break;
    case "pending":
      next.state = State.SUBMITTED;
      next.cluster = nonEmpty(event.clusterId) ?? next.cluster;
      break;
    case "leaseReturned":
    case "leaseExpired":
    case "unableToSchedule":
    case "terminated":
      next.state = State.SUBMITTED;
      break;
    case "running":
      next.state = State.RUNNING;
      next.startedAt = at ?? next.startedAt;
      next.cluster = nonEmpty(event.clusterId) ?? next.cluster;
      next.node = nonEmpty(event.nodeName) ?? next.node;
      break;
    case "succeeded":
      next.state = State.SUCCEEDED;
      next.finishedAt = at;
      next.cluster = nonEmpty(event.clusterId) ?? next.cluster;
      next.node = nonEmpty(event.nodeName) ?? next.node;
      break;
    case "failed": {
      const failure = event.failure ?? NO_FAILURE_DETAIL;
      next.cluster = nonEmpty(event.clusterId) ?? next.cluster;
      next.node = nonEmpty(event.nodeName) ?? next.node;
      next.exitCode = exitCodeOf(failure);
      next.cause = causeOf(failure);
      // A retryable failure sends the job back to the queue; only the last attempt's failure is final.
      if (failure.retryable) {
        next.state = State.SUBMITTED;
        next.error = "";
      } else {
        next.state = State.FAILED;
        next.error = failureText(failure);
        next.finishedAt = at;
      }
      break;
    }
    case "cancelled":
      next.state = State.CANCELLED;
      next.finishedAt = at;
      break;
    case "duplicateFound":
      next.state = State.DUPLICATE_FOUND;
      next.finishedAt = at;
      break;
    case "reprioritized":
    case "reprioritizing":
    case "cancelling":
    case "utilisation":
    case "ingressInfo":
    case "preempted":
    case "preempting":
      break;
  }
  return next;
}

const NO_FAILURE_DETAIL: FailureDetail = { reason: "", retryable: false, cause: Cause.Error, exitCodes: [], containers: [] };

function nonEmpty(value: string): string | undefined {
  return value === "" ? undefined : value;
}
