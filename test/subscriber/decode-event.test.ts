import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { EventStreamMessageSchema } from "../../src/gen/api/event_pb.js";
import { decodeEvent, isUndecodable, readMessageId } from "../../src/subscriber/decode-event.js";
import { MALFORMED_EVENTS, event, messageId, streamMessage, unknownCaseEvent, wireMessage } from "./event-builders.js";

const T0 = 1_700_000_000_000;
const ID = messageId(7);

describe("decoding a message of Armada's event stream", () => {
  it("gives a valid message as it is", () => {
    const message = streamMessage(7, event("running", "a", T0, { clusterId: "c1" }));
    const decoded = decodeEvent(toBinary(EventStreamMessageSchema, message));
    expect(isUndecodable(decoded)).toBe(false);
    expect(decoded).toEqual(message);
  });

  it("gives an event of a case this build does not know as a message with no case: no problem at all", () => {
    const decoded = decodeEvent(wireMessage(ID, unknownCaseEvent("a")));
    expect(isUndecodable(decoded)).toBe(false);
    expect(decoded).toMatchObject({ id: ID, message: { events: { case: undefined } } });
  });

  it.each(Object.entries(MALFORMED_EVENTS))("reports an event with %s, and keeps only its id, to move the cursor past it", (_kind, payload) => {
    const bytes = wireMessage(ID, payload);
    const decoded = decodeEvent(bytes);
    if (!isUndecodable(decoded)) throw new Error("decoded a malformed event");
    expect(decoded.undecodable).toEqual({ messageId: ID, bytes: bytes.length, error: expect.any(String) });
    expect(decoded.undecodable.error).not.toBe("");
    expect(decoded.idOnly).toEqual(create(EventStreamMessageSchema, { id: ID }));
    expect(decoded.idOnly?.message).toBeUndefined();
  });

  it.each([
    ["bytes that are not protobuf at all", Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)],
    ["a message cut short after its id", wireMessage(ID, Uint8Array.of(0x12, 0x02, 0x0a, 0x01, 0x61)).subarray(0, -2)],
    ["an id that is not UTF-8", new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(Uint8Array.of(0x31, 0xc3)).tag(2, WireType.LengthDelimited).bytes(MALFORMED_EVENTS["a length past the end"]).finish()],
    ["no id", new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(MALFORMED_EVENTS["a length past the end"]).finish()],
    ["an empty id", wireMessage("", MALFORMED_EVENTS["a length past the end"])],
    ["an id after a broken field", Uint8Array.of(0x17, ...wireMessage(ID, Uint8Array.of()))],
  ])("reports %s, with no id: the message is skipped and the cursor stays", (_kind, bytes) => {
    const decoded = decodeEvent(bytes);
    if (!isUndecodable(decoded)) throw new Error("decoded a malformed message");
    expect(decoded.undecodable).toEqual({ bytes: bytes.length, error: expect.any(String) });
    expect(decoded.idOnly).toBeUndefined();
  });
});

describe("reading only the id of a message", () => {
  it("skips the fields around it, whatever their wire type", () => {
    const bytes = new BinaryWriter()
      .tag(5, WireType.Varint).uint64(1n << 60n)
      .tag(6, WireType.Bit64).fixed64(7n)
      .tag(7, WireType.Bit32).fixed32(7)
      .tag(1, WireType.LengthDelimited).string(ID)
      .tag(2, WireType.LengthDelimited).bytes(MALFORMED_EVENTS["a truncated varint (the event's length)"])
      .finish();
    expect(readMessageId(bytes)).toBe(ID);
  });

  it("takes the last id when there are several, as protobuf does", () => {
    const bytes = new BinaryWriter().tag(1, WireType.LengthDelimited).string("first").tag(1, WireType.LengthDelimited).string(ID).finish();
    expect(readMessageId(bytes)).toBe(ID);
  });
});
