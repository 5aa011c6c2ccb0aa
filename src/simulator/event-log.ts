import { create } from "@bufbuild/protobuf";
import { EventStreamMessageSchema, type EventMessage, type EventStreamMessage } from "../gen/api/event_pb.js";
import type { JobSetKey } from "../store/store.js";
import { comparePositions, formatMessageId, MAX_SEQ, MAX_SUB, type MessagePosition } from "./message-id.js";

export interface LoggedMessage {
  readonly id: string;
  readonly position: MessagePosition;
  readonly message: EventMessage;
}

/**
 * Armada's event store, one append-only log per (queue, job set). Each append
 * is one event sequence: its events share a (millis, seq) entry and are told
 * apart by their index, as in Armada.
 */
export interface EventLog {
  /** Appends one event sequence; returns the ids given to its events. */
  append(key: JobSetKey, events: readonly EventMessage[]): string[];
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

  return {
    append(key, events) {
      if (events.length === 0) return [];
      if (events.length > MAX_SUB + 1) throw new RangeError(`an event sequence holds at most ${MAX_SUB + 1} events`);
      const name = keyName(key);
      let log = logs.get(name);
      if (!log) {
        log = { key: { queue: key.queue, jobSetId: key.jobSetId }, messages: [] };
        logs.set(name, log);
      }
      const entry = nextEntry(log.messages.at(-1)?.position, now());
      const ids = events.map((message, sub) => {
        const position = { ...entry, sub };
        const id = formatMessageId(position, sub === events.length - 1);
        log.messages.push({ id, position, message });
        return id;
      });
      for (const listener of [...(listeners.get(name) ?? [])]) listener();
      return ids;
    },
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

/** A logged event as GetJobSetEvents sends it. */
export function streamMessage(logged: LoggedMessage): EventStreamMessage {
  return create(EventStreamMessageSchema, { id: logged.id, message: logged.message });
}
