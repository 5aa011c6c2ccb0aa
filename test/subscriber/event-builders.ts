import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventMessageSchema, EventStreamMessageSchema, type EventMessage, type EventStreamMessage } from "../../src/gen/api/event_pb.js";

type KnownEvent = Exclude<EventMessage["events"], { case: undefined }>;
type Case = KnownEvent["case"];
type Fields<C extends Case> = Omit<Extract<KnownEvent, { case: C }>["value"], "$typeName" | "$unknown" | "jobId" | "jobSetId" | "queue" | "created">;

export const QUEUE = "q";
export const JOB_SET = "set-1";

/** An event of one case for one job, created at `atMs`, with the case's extra fields. */
export function event<C extends Case>(eventCase: C, jobId: string, atMs: number, fields: Partial<Fields<C>> = {}): EventMessage {
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

export function streamMessage(n: number, message: EventMessage | undefined): EventStreamMessage {
  return create(EventStreamMessageSchema, { id: messageId(n), message });
}

/** A message whose case this build does not know, as a newer Armada would send. */
export function unknownCaseMessage(n: number): EventStreamMessage {
  return create(EventStreamMessageSchema, { id: messageId(n), message: create(EventMessageSchema, {}) });
}
