import { create } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { EventMessageSchema, EventStreamMessageSchema, type EventMessage, type EventStreamMessage } from "../gen/api/event_pb.js";
import type { JobSetKey } from "../store/store.js";
import { comparePositions, formatMessageId, MAX_SEQ, MAX_SUB, type MessagePosition } from "./message-id.js";

export interface LoggedMessage {
  readonly id: string;
  readonly position: MessagePosition;
  /** Empty for a raw entry. */
  readonly message: EventMessage;
  /** Bytes sent in place of `message`, whatever they are: a malformed event on purpose. */
  readonly raw?: Uint8Array;
}

type Entry = Pick<LoggedMessage, "message" | "raw">;

/**
 * Armada's event store, one append-only log per (queue, job set). Each append
 * is one event sequence: its events share a (millis, seq) entry and are told
 * apart by their index, as in Armada.
 */
export interface EventLog {
  /** Appends one event sequence; returns the ids given to its events. */
  append(key: JobSetKey, events: readonly EventMessage[]): string[];
  /** Appends one event sequence whose events are these bytes as they are; returns their ids. */
  appendRaw(key: JobSetKey, payloads: readonly Uint8Array[]): string[];
  has(key: JobSetKey): boolean;
  /** Messages strictly after `from` (all of them without it), in order. */
  after(key: JobSetKey, from?: MessagePosition): readonly LoggedMessage[];
  /** Calls `listener` after every append to the job set; returns the unsubscribe function. */
  onAppend(key: JobSetKey, listener: () => void): () => void;
  jobSets(): JobSetKey[];
}

interface JobSetLog {
  readonly key: JobSetKey;
  readonly messages: LoggedMessage[];
}

export function createEventLog(now: () => number): EventLog {
  const logs = new Map<string, JobSetLog>();
  const listeners = new Map<string, Set<() => void>>();

  function appendSequence(key: JobSetKey, entries: readonly Entry[]): string[] {
    if (entries.length === 0) return [];
    if (entries.length > MAX_SUB + 1) throw new RangeError(`an event sequence holds at most ${MAX_SUB + 1} events`);
    const name = keyName(key);
    let log = logs.get(name);
    if (!log) {
      log = { key: { queue: key.queue, jobSetId: key.jobSetId }, messages: [] };
      logs.set(name, log);
    }
    const sequence = nextEntry(log.messages.at(-1)?.position, now());
    const ids = entries.map((entry, sub) => {
      const position = { ...sequence, sub };
      const id = formatMessageId(position, sub === entries.length - 1);
      log.messages.push({ id, position, ...entry });
      return id;
    });
    for (const listener of [...(listeners.get(name) ?? [])]) listener();
    return ids;
  }

  return {
    append: (key, events) =>
      appendSequence(
        key,
        events.map((message) => ({ message })),
      ),
    appendRaw: (key, payloads) =>
      appendSequence(
        key,
        payloads.map((raw) => ({ message: create(EventMessageSchema), raw })),
      ),
    has: (key) => logs.has(keyName(key)),
    after(key, from) {
      const messages = logs.get(keyName(key))?.messages ?? [];
      return from ? messages.slice(firstAfter(messages, from)) : messages.slice();
    },
    onAppend(key, listener) {
      const name = keyName(key);
      let set = listeners.get(name);
      if (!set) {
        set = new Set();
        listeners.set(name, set);
      }
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(name);
      };
    },
    jobSets: () => [...logs.values()].map((log) => log.key),
  };
}

/** Time never runs backwards inside a log, and a full millisecond spills into the next. */
export function nextEntry(last: MessagePosition | undefined, nowMs: number): { millis: number; seq: number } {
  const millis = Math.max(Math.floor(nowMs), last?.millis ?? 0);
  if (!last || millis > last.millis) return { millis, seq: 0 };
  if (last.seq < MAX_SEQ) return { millis, seq: last.seq + 1 };
  return { millis: millis + 1, seq: 0 };
}

function firstAfter(messages: readonly LoggedMessage[], from: MessagePosition): number {
  let low = 0;
  let high = messages.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const message = messages[mid];
    if (message && comparePositions(message.position, from) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

export function keyName(key: JobSetKey): string {
  return `${key.queue}\u0000${key.jobSetId}`;
}

/** `EventStreamMessage.message`. */
const MESSAGE_FIELD = 2;

/**
 * A logged event as GetJobSetEvents sends it. Raw bytes go out as an unknown
 * field in the place of `message`: protobuf-es writes an unknown field's tag
 * and then its data as given, so the data is the length prefix and the bytes.
 */
export function streamMessage(logged: LoggedMessage): EventStreamMessage {
  if (logged.raw === undefined) return create(EventStreamMessageSchema, { id: logged.id, message: logged.message });
  const message = create(EventStreamMessageSchema, { id: logged.id });
  message.$unknown = [{ no: MESSAGE_FIELD, wireType: WireType.LengthDelimited, data: new BinaryWriter().bytes(logged.raw).finish() }];
  return message;
}
