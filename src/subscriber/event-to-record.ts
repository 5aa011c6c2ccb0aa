import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Cause, type EventMessage, type JobFailedEvent } from "../gen/api/event_pb.js";
import { JobServiceResponse_State as State } from "../gen/jobservice/jobservice_pb.js";
import { isTerminal } from "../status/answer.js";
import type { JobRecord } from "../store/store.js";

type KnownEvent = Exclude<EventMessage["events"], { case: undefined }>;
type EventCase = KnownEvent["case"];

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

/** The job an event is about; undefined for a case this build cannot decode (newer servers add cases). */
export function eventJobId(message: EventMessage | undefined): string | undefined {
  const event = message?.events;
  if (!event || event.case === undefined) return undefined;
  return event.value.jobId;
}

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
  const a = next.split(":");
  const b = previous.split(":");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const order = compareDigits(a[i], b[i]);
    if (order !== 0) return order > 0;
  }
  return false;
}

/**
 * Compares two unsigned decimal numbers of any length without parsing them
 * (this runs for every event): the longer one, leading zeros aside, is larger,
 * else the first differing digit decides. An absent segment is the smallest.
 */
function compareDigits(x: string | undefined, y: string | undefined): number {
  if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? -1 : 1;
  const a = x.replace(/^0+(?=\d)/, "");
  const b = y.replace(/^0+(?=\d)/, "");
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The container exit code that explains a failure: the first non-zero one. */
function exitCodeOf(event: JobFailedEvent): number | undefined {
  const fromContainers = event.containerStatuses.find((c) => c.exitCode !== 0)?.exitCode;
  if (fromContainers !== undefined) return fromContainers;
  return Object.values(event.exitCodes).find((code) => code !== 0);
}

/**
 * Armada's cause, from the event or else from a container. `Error` is the
 * proto3 default, so it is indistinguishable from "not said" and never named.
 */
function causeOf(event: JobFailedEvent): string | undefined {
  const cause = event.cause !== Cause.Error ? event.cause : event.containerStatuses.find((c) => c.cause !== Cause.Error)?.cause;
  return cause === undefined ? undefined : (Cause[cause] ?? `cause ${cause}`);
}

/** The v1 `error` text of a failure: Armada's reason, then exit code and cause when known. */
export function failureText(event: JobFailedEvent): string {
  const exitCode = exitCodeOf(event);
  const cause = causeOf(event);
  const details = [
    ...(exitCode !== undefined ? [`exit code ${exitCode}`] : []),
    ...(cause !== undefined ? [`cause ${cause}`] : []),
  ];
  const reason = event.reason.trim() || "job failed";
  return details.length > 0 ? `${reason} (${details.join(", ")})` : reason;
}

function createdMs(created: Timestamp | undefined): number | undefined {
  return created ? timestampMs(created) : undefined;
}

function nonEmpty(value: string): string | undefined {
  return value === "" ? undefined : value;
}

const NEW_JOB: JobRecord = { state: State.SUBMITTED, error: "", lastEvent: "", messageId: "", runAttempts: 0 };

/**
 * The job's record after one event, or `previous` itself when the event
 * changes nothing: an unknown case, a re-delivered message, or anything after
 * a terminal state (a retryable failure is not terminal, so its retry
 * applies). Events that carry no state (reprioritised, utilisation, …) still
 * prove the job exists, so they create a SUBMITTED record for an unseen job.
 */
export function applyEvent(previous: JobRecord | undefined, messageId: string, message: EventMessage | undefined): JobRecord | undefined {
  const event = message?.events;
  if (!event || event.case === undefined) return previous;
  if (previous && (isTerminal(previous.state) || !comesAfter(messageId, previous.messageId))) return previous;

  const base: JobRecord = { ...(previous ?? NEW_JOB), lastEvent: EVENT_NAMES[event.case], messageId };
  const at = createdMs(event.value.created);
  switch (event.case) {
    case "submitted":
      return { ...base, state: State.SUBMITTED, submittedAt: at ?? base.submittedAt };
    case "queued":
      return { ...base, state: State.SUBMITTED, submittedAt: base.submittedAt ?? at };
    case "leased":
      return {
        ...base,
        state: State.SUBMITTED,
        cluster: nonEmpty(event.value.clusterId) ?? base.cluster,
        runAttempts: base.runAttempts + 1,
      };
    case "pending":
      return { ...base, state: State.SUBMITTED, cluster: nonEmpty(event.value.clusterId) ?? base.cluster };
    case "leaseReturned":
    case "leaseExpired":
    case "unableToSchedule":
    case "terminated":
      return { ...base, state: State.SUBMITTED };
    case "running":
      return {
        ...base,
        state: State.RUNNING,
        startedAt: at ?? base.startedAt,
        cluster: nonEmpty(event.value.clusterId) ?? base.cluster,
        node: nonEmpty(event.value.nodeName) ?? base.node,
      };
    case "succeeded":
      return {
        ...base,
        state: State.SUCCEEDED,
        finishedAt: at,
        cluster: nonEmpty(event.value.clusterId) ?? base.cluster,
        node: nonEmpty(event.value.nodeName) ?? base.node,
      };
    case "failed": {
      const failed = event.value;
      const detail = {
        cluster: nonEmpty(failed.clusterId) ?? base.cluster,
        node: nonEmpty(failed.nodeName) ?? base.node,
        exitCode: exitCodeOf(failed),
        cause: causeOf(failed),
      };
      // A retryable failure sends the job back to the queue; only the last attempt's failure is final.
      if (failed.retryable) return { ...base, ...detail, state: State.SUBMITTED, error: "" };
      return { ...base, ...detail, state: State.FAILED, error: failureText(failed), finishedAt: at };
    }
    case "cancelled":
      return { ...base, state: State.CANCELLED, finishedAt: at };
    case "duplicateFound":
      return { ...base, state: State.DUPLICATE_FOUND, finishedAt: at };
    case "reprioritized":
    case "reprioritizing":
    case "cancelling":
    case "utilisation":
    case "ingressInfo":
    case "preempted":
    case "preempting":
      return base;
  }
}
