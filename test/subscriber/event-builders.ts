import { create } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventMessageSchema, type EventMessage } from "../../src/gen/api/event_pb.js";
import { jobEventOf, type ArmadaMessage, type JobEvent } from "../../src/armada/decode-event.js";

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

/**
 * `EventMessage` payloads that are not valid protobuf, each broken in its own
 * way, as a buggy or hostile server might send them. All are `queued` events
 * (field 2) unless said otherwise.
 */
export const MALFORMED_EVENTS = {
  "a truncated varint (the event's length)": Uint8Array.of(0x12, 0x80),
  "a wire type that does not exist (7, for job_id)": Uint8Array.of(0x12, 0x01, 0x0f),
  "an end-group with no start (field 999)": Uint8Array.of(0xbc, 0x3e),
  "a length past the end": Uint8Array.of(0x12, 0x7f, 0x0a, 0x01, 0x61),
  "invalid UTF-8 in job_id": Uint8Array.of(0x12, 0x03, 0x0a, 0x01, 0xff),
} as const satisfies Record<string, Uint8Array>;

/** A well-formed event of a case this build does not know (field 23, as a newer Armada might add) about job `jobId`. */
export function unknownCaseEvent(jobId: string): Uint8Array {
  const body = new BinaryWriter().tag(1, WireType.LengthDelimited).string(jobId).finish();
  return new BinaryWriter().tag(23, WireType.LengthDelimited).bytes(body).finish();
}

/** An `EventStreamMessage` as bytes on the wire: `id`, then `event` as its message, whatever it holds. */
export function wireMessage(id: string, event: Uint8Array): Uint8Array {
  return new BinaryWriter().tag(1, WireType.LengthDelimited).string(id).tag(2, WireType.LengthDelimited).bytes(event).finish();
}
