import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EventMessageSchema, EventStreamMessageSchema } from "../../src/gen/api/event_pb.js";
import { createEventLog, nextEntry, streamMessage } from "../../src/simulator/event-log.js";
import { MAX_SEQ, parseMessageId } from "../../src/simulator/message-id.js";

const key = { queue: "q", jobSetId: "s" };
const event = (jobId: string) => create(EventMessageSchema, { events: { case: "queued", value: { jobId } } });

describe("the event log", () => {
  it("numbers entries per millisecond and events within an entry", () => {
    let now = 100;
    const log = createEventLog(() => now);
    expect(log.append(key, [event("a"), event("b")])).toEqual(["0000000000100:000000:000000:0", "0000000000100:000000:000001:1"]);
    expect(log.append(key, [event("c")])).toEqual(["0000000000100:000001:000000:1"]);
    now = 101;
    expect(log.append(key, [event("d")])).toEqual(["0000000000101:000000:000000:1"]);
  });

  it("never goes back in time when the clock does", () => {
    let now = 500;
    const log = createEventLog(() => now);
    log.append(key, [event("a")]);
    now = 400;
    expect(log.append(key, [event("b")])).toEqual(["0000000000500:000001:000000:1"]);
  });

  it("spills into the next millisecond when one is full", () => {
    expect(nextEntry({ millis: 7, seq: MAX_SEQ - 1, sub: 0 }, 7)).toEqual({ millis: 7, seq: MAX_SEQ });
    expect(nextEntry({ millis: 7, seq: MAX_SEQ, sub: 0 }, 7)).toEqual({ millis: 8, seq: 0 });
    expect(nextEntry(undefined, 7.9)).toEqual({ millis: 7, seq: 0 });
  });

  it("reads strictly after a position, even one that names no stored message", () => {
    const log = createEventLog(() => 10);
    const ids = [...log.append(key, [event("a"), event("b")]), ...log.append(key, [event("c")])];
    expect(log.after(key, parseMessageId(ids[0]!)).map((m) => m.id)).toEqual(ids.slice(1));
    expect(log.after(key, { millis: 10, seq: 0, sub: 99 }).map((m) => m.id)).toEqual([ids[2]]);
    expect(log.after(key, { millis: 9, seq: 0, sub: 0 })).toHaveLength(3);
    expect(log.after({ queue: "q", jobSetId: "other" })).toEqual([]);
  });

  it("tells listeners of their own job set only, until they unsubscribe", () => {
    const log = createEventLog(() => 1);
    let calls = 0;
    const stop = log.onAppend(key, () => calls++);
    log.append(key, [event("a")]);
    log.append({ queue: "other", jobSetId: "s" }, [event("b")]);
    stop();
    log.append(key, [event("c")]);
    expect(calls).toBe(1);
    expect(log.jobSets()).toEqual([key, { queue: "other", jobSetId: "s" }]);
  });

  it("sends raw entries' bytes as they are, in the place of the event, numbered like any other sequence", () => {
    const log = createEventLog(() => 10);
    log.append(key, [event("a")]);
    const raw = Uint8Array.of(0x12, 0x7f, 0xff);
    const ids = log.appendRaw(key, [raw, Uint8Array.of()]);
    expect(ids).toEqual(["0000000000010:000001:000000:0", "0000000000010:000001:000001:1"]);
    const [first, second] = log
      .after(key)
      .slice(1)
      .map((m) => toBinary(EventStreamMessageSchema, streamMessage(m)));
    const id = (n: number) => [0x0a, ids[n]!.length, ...Buffer.from(ids[n]!)];
    expect([...first!]).toEqual([...id(0), 0x12, raw.length, ...raw]);
    expect([...second!]).toEqual([...id(1), 0x12, 0]);
    // Everything else reading the log sees an event of no case.
    expect(
      log
        .after(key)
        .slice(1)
        .map((m) => m.message.events.case),
    ).toEqual([undefined, undefined]);
  });
});
