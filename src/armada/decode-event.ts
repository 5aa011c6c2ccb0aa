// Over 300 lines on purpose: the partial decoder reads Armada's event messages field by field,
// and its per-event field tables are one piece that reads best together (the differential test
// against the generated decoder is test/armada/decode-event.test.ts).
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { EventMessage } from "../gen/api/event_pb.js";
import { EXTERNAL_JOB_URI_ANNOTATION } from "../query/query-job.js";

export type EventCase = Exclude<EventMessage["events"]["case"], undefined>;

/** One message of Armada's event stream, reduced to what the state mapping reads. */
export interface ArmadaMessage {
  readonly id: string;
  /** Undefined when the message carries no event, or one of a case this build does not know. */
  readonly event: JobEvent | undefined;
}

export interface JobEvent {
  readonly case: EventCase;
  readonly jobId: string;
  /** The event's `created` time in milliseconds since the epoch; undefined when it has none. */
  readonly createdMs: number | undefined;
  /** "" when the event type has no such field or it is empty. */
  readonly clusterId: string;
  readonly nodeName: string;
  /** Only for `failed`. */
  readonly failure: FailureDetail | undefined;
  /** Only for `submitted`: the job's external job URI annotation (Armada's Airflow operator sets it); "" when it has none. */
  readonly externalJobUri: string;
}

export interface FailureDetail {
  readonly reason: string;
  readonly retryable: boolean;
  /** Armada's `Cause` enum value. */
  readonly cause: number;
  /** The values of the `exit_codes` map, in the order a decoded map object lists them. */
  readonly exitCodes: readonly number[];
  readonly containers: readonly ContainerDetail[];
}

export interface ContainerDetail {
  readonly exitCode: number;
  readonly cause: number;
}

/**
 * Where a case keeps the fields the state mapping reads (field numbers of its
 * event message; 0, which no field has, where it has none). Every layout has
 * every property, in one order: the decoder reads them for every event, and
 * layouts of one shape keep those reads monomorphic.
 */
interface Layout {
  readonly case: EventCase;
  readonly cluster: number;
  readonly node: number;
  readonly failure: boolean;
  /** The field of the `api.Job` the event carries, whose annotations hold the external job URI. */
  readonly job: number;
}

function eventLayout(eventCase: EventCase, fields: Partial<Omit<Layout, "case">> = {}): Layout {
  return { case: eventCase, cluster: fields.cluster ?? 0, node: fields.node ?? 0, failure: fields.failure ?? false, job: fields.job ?? 0 };
}

// Every event message has job_id = 1 and created = 4; the rest differ by type (proto/api/event.proto).
const LAYOUTS: ReadonlyMap<number, Layout> = new Map<number, Layout>([
  [1, eventLayout("submitted", { job: 5 })],
  [2, eventLayout("queued")],
  [3, eventLayout("leased", { cluster: 5 })],
  [4, eventLayout("leaseReturned")],
  [5, eventLayout("leaseExpired")],
  [6, eventLayout("pending", { cluster: 5 })],
  [7, eventLayout("running", { cluster: 5, node: 7 })],
  [8, eventLayout("unableToSchedule")],
  [9, eventLayout("failed", { cluster: 5, node: 9, failure: true })],
  [10, eventLayout("succeeded", { cluster: 5, node: 7 })],
  [11, eventLayout("reprioritized")],
  [12, eventLayout("cancelling")],
  [13, eventLayout("cancelled")],
  [14, eventLayout("terminated")],
  [15, eventLayout("utilisation")],
  [16, eventLayout("duplicateFound")],
  [17, eventLayout("ingressInfo")],
  [18, eventLayout("reprioritizing")],
  [21, eventLayout("preempted")],
  [22, eventLayout("preempting")],
]);

const RECURSION_LIMIT = 100;

/** What is known of a frame from Armada's event stream that is not a valid `EventStreamMessage`. Never its bytes. */
export interface UndecodableEvent {
  /** Its message id, when that much of it could still be read. */
  readonly messageId?: string;
  readonly bytes: number;
  readonly error: string;
}

/**
 * Decodes one payload of `GetJobSetEvents`. An event of a case this build
 * does not know is not a problem: it decodes, with no event. Bytes that are
 * not a valid message are reported and give no event; with their id
 * recovered they still move the cursor, so a reconnect resumes after them
 * instead of meeting them again; without it they are skipped (undefined).
 */
export function decodeEvent(bytes: Uint8Array, report: (problem: UndecodableEvent) => void): ArmadaMessage | undefined {
  try {
    return decodeArmadaMessage(bytes);
  } catch (error) {
    const messageId = readMessageId(bytes);
    report({ ...(messageId !== undefined && { messageId }), bytes: bytes.length, error: error instanceof Error ? error.message : String(error) });
    return messageId === undefined ? undefined : { id: messageId, event: undefined };
  }
}

/**
 * The id of a message whose event does not decode: only if the message's own
 * framing is sound (every field well formed, within bounds) and the id is
 * non-empty, valid UTF-8. Anything less could be garbage taken for a cursor.
 */
export function readMessageId(bytes: Uint8Array): string | undefined {
  try {
    const reader = new BinaryReader(bytes);
    let id = "";
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      // As protobuf reads a repeated scalar field: the last one wins.
      if (field === 1 && wireType === WireType.LengthDelimited) id = reader.string(true);
      else reader.skip(wireType, field);
    }
    return id === "" ? undefined : id;
  } catch {
    return undefined;
  }
}

/**
 * Decodes an `api.EventStreamMessage` reading only the fields the state
 * mapping uses and skipping the rest unread (a submitted event carries the
 * whole pod spec). Where it reads, it reads as `fromBinary` does, merges
 * included (a repeated singular message merges, a different oneof case
 * replaces); test/armada/decode-event.test.ts holds it to that.
 * Throws on bytes that are not a well-formed message.
 */
export function decodeArmadaMessage(bytes: Uint8Array): ArmadaMessage {
  const reader = new BinaryReader(bytes);
  readerBytes.set(reader, bytes);
  let id = "";
  let event: MutableEvent | undefined;
  let layout: Layout | undefined;
  while (reader.pos < reader.len) {
    const tag = readTag(reader);
    const field = tag >>> 3;
    if (field === 1) id = reader.string(true);
    else if (field === 2) {
      const end = lengthEnd(reader);
      while (reader.pos < end) {
        const eventTag = readTag(reader);
        const eventField = eventTag >>> 3;
        const known = LAYOUTS.get(eventField);
        if (known === undefined) {
          skipField(reader, eventTag, 2);
          continue;
        }
        // A oneof field replaces another case and merges into the same case.
        if (layout !== known || event === undefined) {
          layout = known;
          event = newEvent(known);
        }
        readEvent(reader, known, event);
      }
    } else skipField(reader, tag, 1);
  }
  return { id, event: event && freeze(event) };
}

interface MutableEvent {
  case: EventCase;
  jobId: string;
  createdSeconds: bigint | undefined;
  createdNanos: number;
  clusterId: string;
  nodeName: string;
  failure: MutableFailure | undefined;
  externalJobUri: string;
}

interface MutableFailure {
  reason: string;
  retryable: boolean;
  cause: number;
  exitCodes: Record<string, number>;
  containers: ContainerDetail[];
}

function newEvent(layout: Layout): MutableEvent {
  return {
    case: layout.case,
    jobId: "",
    createdSeconds: undefined,
    createdNanos: 0,
    clusterId: "",
    nodeName: "",
    // A null-prototype object lists its keys as a decoded map object does, "__proto__" included.
    failure: layout.failure ? { reason: "", retryable: false, cause: 0, exitCodes: Object.create(null) as Record<string, number>, containers: [] } : undefined,
    externalJobUri: "",
  };
}

function readEvent(reader: BinaryReader, layout: Layout, event: MutableEvent): void {
  const end = lengthEnd(reader);
  const failure = event.failure;
  while (reader.pos < end) {
    const tag = readTag(reader);
    const field = tag >>> 3;
    if (field === 1) event.jobId = reader.string(true);
    else if (field === 4) readTimestamp(reader, event);
    else if (field === layout.cluster) event.clusterId = reader.string(true);
    else if (field === layout.node) event.nodeName = reader.string(true);
    else if (field === layout.job) readJob(reader, event);
    else if (failure !== undefined && field === 6) failure.reason = reader.string(true);
    else if (failure !== undefined && field === 7) readExitCode(reader, failure.exitCodes);
    else if (failure !== undefined && field === 11) failure.containers.push(readContainer(reader));
    else if (failure !== undefined && field === 12) failure.cause = reader.int32();
    else if (failure !== undefined && field === 18) failure.retryable = reader.bool();
    else skipField(reader, tag, 3);
  }
}

function readTimestamp(reader: BinaryReader, event: MutableEvent): void {
  const end = lengthEnd(reader);
  event.createdSeconds ??= 0n;
  while (reader.pos < end) {
    const tag = readTag(reader);
    const field = tag >>> 3;
    if (field === 1) event.createdSeconds = BigInt(reader.int64());
    else if (field === 2) event.createdNanos = reader.int32();
    else skipField(reader, tag, 4);
  }
}

// api.Job's annotations map (field 10); its entries are key = 1, value = 2.
const ANNOTATIONS = 10;
const URI_KEY = new TextEncoder().encode(EXTERNAL_JOB_URI_ANNOTATION);

/**
 * Reads the one annotation the service indexes out of the job a `submitted`
 * event carries, skipping the rest (the pod specs) unread; other annotation
 * keys are compared as bytes, never decoded. As in a decoded map, the last
 * entry with the key wins, across merged copies of the job too.
 */
function readJob(reader: BinaryReader, event: MutableEvent): void {
  const end = lengthEnd(reader);
  const bytes = bytesOf(reader);
  while (reader.pos < end) {
    const tag = readTag(reader);
    if (tag >>> 3 === ANNOTATIONS && (tag & 7) === WireType.LengthDelimited) readAnnotation(reader, bytes, event);
    else skipField(reader, tag, 4);
  }
}

function readAnnotation(reader: BinaryReader, bytes: Uint8Array, event: MutableEvent): void {
  const end = lengthEnd(reader);
  let isUri = false;
  // Where the entry's (last) value starts: it is decoded only if the key turns out to be the URI's.
  let valueAt = -1;
  while (reader.pos < end) {
    const tag = readTag(reader);
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === WireType.LengthDelimited) isUri = keyIsUri(reader, bytes);
    else if (field === 2 && (tag & 7) === WireType.LengthDelimited) valueAt = reader.pos;
    if (field !== 1 || (tag & 7) !== WireType.LengthDelimited) skipField(reader, tag, 4);
  }
  if (!isUri) return;
  if (valueAt < 0) {
    event.externalJobUri = "";
    return;
  }
  reader.pos = valueAt;
  event.externalJobUri = reader.string(true);
  reader.pos = end;
}

/** Whether the length-delimited key that comes next is the URI annotation's; moves past it either way. */
function keyIsUri(reader: BinaryReader, bytes: Uint8Array): boolean {
  const end = lengthEnd(reader);
  const start = reader.pos;
  reader.pos = end;
  if (end - start !== URI_KEY.length) return false;
  for (let i = 0; i < URI_KEY.length; i++) if (bytes[start + i] !== URI_KEY[i]) return false;
  return true;
}

function readExitCode(reader: BinaryReader, exitCodes: Record<string, number>): void {
  const end = lengthEnd(reader);
  let key = "";
  let value = 0;
  while (reader.pos < end) {
    const tag = readTag(reader);
    const field = tag >>> 3;
    if (field === 1) key = reader.string(true);
    else if (field === 2) value = reader.int32();
    // A map entry is not a message of its own: it skips with its map's depth.
    else skipField(reader, tag, 3);
  }
  exitCodes[key] = value;
}

function readContainer(reader: BinaryReader): ContainerDetail {
  const end = lengthEnd(reader);
  let exitCode = 0;
  let cause = 0;
  while (reader.pos < end) {
    const tag = readTag(reader);
    const field = tag >>> 3;
    if (field === 2) exitCode = reader.int32();
    else if (field === 5) cause = reader.int32();
    else skipField(reader, tag, 4);
  }
  return { exitCode, cause };
}

function freeze(event: MutableEvent): JobEvent {
  const failure = event.failure;
  return {
    case: event.case,
    jobId: event.jobId,
    createdMs: event.createdSeconds === undefined ? undefined : Number(event.createdSeconds) * 1000 + Math.round(event.createdNanos / 1_000_000),
    clusterId: event.clusterId,
    nodeName: event.nodeName,
    failure: failure && {
      reason: failure.reason,
      retryable: failure.retryable,
      cause: failure.cause,
      exitCodes: Object.values(failure.exitCodes),
      containers: failure.containers,
    },
    externalJobUri: event.externalJobUri,
  };
}

// BinaryReader keeps its buffer private; the two rare byte-level reads here (a five-byte tag, a skipped varint) need it.
const readerBytes = new WeakMap<BinaryReader, Uint8Array>();

function bytesOf(reader: BinaryReader): Uint8Array {
  return readerBytes.get(reader)!;
}

/** The end of a length-delimited field whose length comes next; checked against the buffer as `fromBinary` does. */
function lengthEnd(reader: BinaryReader): number {
  const length = reader.uint32();
  const end = reader.pos + length;
  if (end > reader.len) throw new RangeError("premature EOF");
  return end;
}

/** A tag as `BinaryReader.tag()` reads and checks it, without allocating its pair. */
function readTag(reader: BinaryReader): number {
  const start = reader.pos;
  const tag = reader.uint32();
  const bytesRead = reader.pos - start;
  if (bytesRead > 5 || (bytesRead === 5 && bytesOf(reader)[reader.pos - 1]! > 0x0f)) throw new Error("illegal tag: varint overflows uint32");
  const field = tag >>> 3;
  const wireType = tag & 7;
  if (field <= 0 || wireType > 5) throw new Error(`illegal tag: field no ${field} wire type ${wireType}`);
  return tag;
}

/** Skips a field this decoder does not read, as `BinaryReader.skip` does, without copying it out. */
function skipField(reader: BinaryReader, tag: number, depth: number): void {
  const wireType = tag & 7;
  switch (wireType) {
    case WireType.Varint: {
      const bytes = bytesOf(reader);
      while (bytes[reader.pos++]! & 0x80) {
        // a varint ends at the first byte without its high bit
      }
      break;
    }
    case WireType.Bit64:
      reader.pos += 8;
      break;
    case WireType.Bit32:
      reader.pos += 4;
      break;
    case WireType.LengthDelimited: {
      const length = reader.uint32();
      reader.pos += length;
      break;
    }
    case WireType.StartGroup:
      if (RECURSION_LIMIT - depth <= 0) throw new Error("maximum recursion depth reached");
      for (;;) {
        const inner = readTag(reader);
        if ((inner & 7) === WireType.EndGroup) {
          if (inner >>> 3 !== tag >>> 3) throw new Error("invalid end group tag");
          break;
        }
        skipField(reader, inner, depth + 1);
      }
      break;
    default:
      throw new Error(`cant skip wire type ${wireType}`);
  }
  if (reader.pos > reader.len) throw new RangeError("premature EOF");
}

/** The same reduction of a message `fromBinary` decoded in full: what clients of connect's API and the tests read. */
export function jobEventOf(message: EventMessage | undefined): JobEvent | undefined {
  const event = message?.events;
  if (event === undefined || event.case === undefined) return undefined;
  const value = event.value;
  const layout = LAYOUT_OF_CASE.get(event.case);
  const created = value.created;
  return {
    case: event.case,
    jobId: value.jobId,
    createdMs: created === undefined ? undefined : Number(created.seconds) * 1000 + Math.round(created.nanos / 1_000_000),
    clusterId: layout !== undefined && layout.cluster !== 0 && "clusterId" in value ? value.clusterId : "",
    nodeName: layout !== undefined && layout.node !== 0 && "nodeName" in value ? value.nodeName : "",
    failure:
      event.case === "failed"
        ? {
            reason: event.value.reason,
            retryable: event.value.retryable,
            cause: event.value.cause,
            exitCodes: Object.values(event.value.exitCodes),
            containers: event.value.containerStatuses.map((c) => ({ exitCode: c.exitCode, cause: c.cause })),
          }
        : undefined,
    externalJobUri: event.case === "submitted" ? (event.value.job?.annotations[EXTERNAL_JOB_URI_ANNOTATION] ?? "") : "",
  };
}

const LAYOUT_OF_CASE: ReadonlyMap<EventCase, Layout> = new Map([...LAYOUTS.values()].map((known) => [known.case, known]));
