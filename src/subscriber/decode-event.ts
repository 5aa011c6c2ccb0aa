import { create, fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { EventStreamMessageSchema, type EventStreamMessage } from "../gen/api/event_pb.js";

/** What is known of a frame from Armada's event stream that is not a valid `EventStreamMessage`. Never its bytes. */
export interface UndecodableEvent {
  /** Its message id, when that much of it could still be read. */
  readonly messageId?: string;
  readonly bytes: number;
  readonly error: string;
}

/**
 * A frame that did not decode. With its id recovered it still moves the
 * cursor, as a message with no event (which changes no job), so that a
 * reconnect resumes after it instead of meeting it again.
 */
export interface Undecodable {
  readonly undecodable: UndecodableEvent;
  readonly idOnly?: EventStreamMessage;
}

/** Unknown fields (a real submitted event carries the whole pod spec) are skipped, not copied into every message. */
const DECODE_OPTIONS = { readUnknownFields: false } as const;

/** `EventStreamMessage.id`. */
const ID_FIELD = 1;

/**
 * Decodes one payload of `GetJobSetEvents`. An event of a case this build
 * does not know is not a problem: it decodes, with no case. Only bytes that
 * are not a valid message are undecodable.
 */
export function decodeEvent(bytes: Uint8Array): EventStreamMessage | Undecodable {
  try {
    return fromBinary(EventStreamMessageSchema, bytes, DECODE_OPTIONS);
  } catch (error) {
    const messageId = readMessageId(bytes);
    const undecodable = { ...(messageId !== undefined && { messageId }), bytes: bytes.length, error: error instanceof Error ? error.message : String(error) };
    return messageId === undefined ? { undecodable } : { undecodable, idOnly: create(EventStreamMessageSchema, { id: messageId }) };
  }
}

export function isUndecodable(decoded: EventStreamMessage | Undecodable): decoded is Undecodable {
  return "undecodable" in decoded;
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
      const [fieldNo, wireType] = reader.tag();
      // As protobuf reads a repeated scalar field: the last one wins.
      if (fieldNo === ID_FIELD && wireType === WireType.LengthDelimited) id = reader.string(true);
      else reader.skip(wireType, fieldNo);
    }
    return id === "" ? undefined : id;
  } catch {
    return undefined;
  }
}
