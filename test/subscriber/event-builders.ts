import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventMessageSchema, type EventMessage } from "../../src/gen/api/event_pb.js";
import { jobEventOf, type ArmadaMessage, type JobEvent } from "../../src/subscriber/decode-event.js";

type KnownEvent = Exclude<EventMessage["events"], { case: undefined }>;
type Case = KnownEvent["case"];
type Fields<C extends Case> = Omit<Extract<KnownEvent, { case: C }>["value"], "$typeName" | "$unknown" | "jobId" | "jobSetId" | "queue" | "created">;

export const QUEUE = "q";
export const JOB_SET = "set-1";

/** An event message of one case for one job, created at `atMs`, with the case's extra fields, as Armada sends it. */
export function eventMessage<C extends Case>(eventCase: C, jobId: string, atMs: number, fields: Partial<Fields<C>> = {}): EventMessage {
  return create(EventMessageSchema, {
    events: {
      case: eventCase,
      value: { jobId, jobSetId: JOB_SET, queue: QUEUE, created: timestampFromMs(atMs), ...fields },
    },
  } as never);
}

/** Armada-format message id number `n` (same millisecond, increasing sequence). */
export function messageId(n: number): string {
  return `1700000000000:${n}:0:1`;
}

/** The same event as the subscriber reads it. */
export function event<C extends Case>(eventCase: C, jobId: string, atMs: number, fields: Partial<Fields<C>> = {}): JobEvent {
  return jobEventOf(eventMessage(eventCase, jobId, atMs, fields))!;
}

export function streamMessage(n: number, event: JobEvent | undefined): ArmadaMessage {
  return { id: messageId(n), event };
}

/** A message whose case this build does not know, as a newer Armada would send. */
export function unknownCaseMessage(n: number): ArmadaMessage {
  return { id: messageId(n), event: undefined };
}
