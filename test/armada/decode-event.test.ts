import { create, fromBinary, ScalarType, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { EventMessageSchema, EventStreamMessageSchema, JobSchema } from "../../src/gen/api/event_pb.js";
import { startSimulator } from "../../src/simulator/index.js";
import { createPrng, type Prng } from "../../src/simulator/prng.js";
import { decodeArmadaMessage, decodeEvent, jobEventOf, readMessageId, type UndecodableEvent } from "../../src/armada/decode-event.js";
import { MALFORMED_EVENTS, eventMessage, messageId, unknownCaseEvent, wireMessage } from "../subscriber/event-builders.js";

const T0 = 1_700_000_000_000;
const URI_KEY = "armadaproject.io/externalJobUri";
const ID = messageId(7);

/** What `fromBinary` makes of the bytes, reduced as the subscriber reduces it: the reference the partial decoder must match. */
function reference(bytes: Uint8Array): ReturnType<typeof decodeArmadaMessage> {
  const message = fromBinary(EventStreamMessageSchema, bytes);
  return { id: message.id, event: jobEventOf(message.message) };
}

function encoded(id: string, message: ReturnType<typeof eventMessage> | undefined): Uint8Array {
  return toBinary(EventStreamMessageSchema, create(EventStreamMessageSchema, { id, message }));
}

/** Random field values for a message of `schema`, by reflection: every scalar, enum, map and list the schema declares, nested messages too (to a depth). */
function randomMessage(schema: DescMessage, prng: Prng, depth = 0): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of schema.fields) {
    if (field.oneof || prng.chance(0.2)) continue;
    const random = randomValue(field, prng, depth);
    if (random !== undefined) value[field.localName] = random;
  }
  return value;
}

const TEXTS = ["", "a", "job-1", "é😀", "sim-cluster-2", " ", "\u0000", "x".repeat(300)];

function randomScalar(scalar: ScalarType, prng: Prng): unknown {
  // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check -- the fields the decoder reads use these scalar types; any other gets no value
  switch (scalar) {
    case ScalarType.STRING:
      return TEXTS[prng.int(0, TEXTS.length - 1)];
    case ScalarType.BOOL:
      return prng.chance(0.5);
    case ScalarType.INT32:
      return prng.chance(0.5) ? prng.int(-200, 200) : prng.uint32() | 0;
    case ScalarType.INT64:
      return BigInt(prng.int(-2_000_000, 2_000_000_000)) * (prng.chance(0.1) ? 1_000_000n : 1n);
    default:
      return undefined;
  }
}

function randomValue(field: DescField, prng: Prng, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return randomScalar(field.scalar, prng);
    case "enum":
      return prng.int(0, field.enum.values.length + 1);
    case "message":
      return depth < 2 ? create(field.message, randomMessage(field.message, prng, depth + 1) as never) : undefined;
    case "list":
      if (field.listKind !== "message" || depth >= 2) return undefined;
      return Array.from({ length: prng.int(0, 3) }, () => create(field.message, randomMessage(field.message, prng, depth + 1) as never));
    case "map": {
      // Only map<string, int32> (exit codes) and map<string, string> (annotations, for the external job URI) matter.
      if (field.mapKind !== "scalar" || field.mapKey !== ScalarType.STRING) return undefined;
      if (field.scalar === ScalarType.STRING) {
        const keys = [URI_KEY, URI_KEY.replace("Uri", "Url"), "armada-sim/reason", "", "__proto__"];
        return Object.fromEntries(Array.from({ length: prng.int(0, 4) }, () => [keys[prng.int(0, keys.length - 1)], TEXTS[prng.int(0, TEXTS.length - 1)]]));
      }
      if (field.scalar !== ScalarType.INT32) return undefined;
      const keys = ["main", "sidecar", "1", "0", "__proto__", "10", "init"];
      return Object.fromEntries(Array.from({ length: prng.int(0, 4) }, () => [keys[prng.int(0, keys.length - 1)], prng.int(-5, 140)]));
    }
  }
}

/** A random event of a random case, as Armada could send it. */
function randomEvent(prng: Prng): ReturnType<typeof eventMessage> {
  const cases = EventMessageSchema.fields.filter((f) => f.oneof !== undefined && f.message !== undefined);
  const field = cases[prng.int(0, cases.length - 1)]!;
  if (field.fieldKind !== "message") throw new Error("every event case is a message");
  return create(EventMessageSchema, { events: { case: field.localName, value: create(field.message, randomMessage(field.message, prng) as never) } } as never);
}

/** A field no build knows, of any wire type, to put where the decoder must skip it. */
function unknownField(prng: Prng): Uint8Array {
  const writer = new BinaryWriter();
  const number = prng.int(40, 500);
  switch (prng.int(0, 4)) {
    case 0:
      return writer
        .tag(number, WireType.Varint)
        .uint64(BigInt(prng.uint32()) << 20n)
        .finish();
    case 1:
      return writer.tag(number, WireType.Bit64).fixed64(BigInt(prng.uint32())).finish();
    case 2:
      return writer.tag(number, WireType.Bit32).fixed32(prng.uint32()).finish();
    case 3:
      return writer
        .tag(number, WireType.LengthDelimited)
        .bytes(Uint8Array.of(0xff, 0x00, 0x12))
        .finish();
    default:
      return writer.tag(number, WireType.StartGroup).tag(1, WireType.Varint).uint32(5).tag(number, WireType.EndGroup).finish();
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}

describe("the partial decoder reads Armada's events as fromBinary does", () => {
  it("for every event of a simulated job set's history", async () => {
    const sim = await startSimulator({ queues: ["q"], seed: 11 });
    try {
      const load = sim.bulkLoad({ queue: "q", jobSets: 1, jobsPerSet: 200, eventsPerSecond: Infinity, jobSetPrefix: "decode-" });
      await load.done;
      const messages = sim.events("q", load.jobs[0]!.jobSetId);
      expect(messages.length).toBe(load.totalEvents);
      for (const message of messages) {
        const bytes = toBinary(EventStreamMessageSchema, message);
        expect(decodeArmadaMessage(bytes)).toEqual(reference(bytes));
      }
    } finally {
      await sim.close();
    }
  });

  it("for failures with every detail: exit codes by container and by map (numeric keys first, as a decoded map lists them), causes, retries", () => {
    const failed = eventMessage("failed", "j", T0 + 999, {
      reason: "  OOMKilled  ",
      retryable: true,
      cause: 2,
      exitCodes: { main: 0, "7": 3, ["__proto__"]: 9, "2": 0, sidecar: 137 },
      containerStatuses: [
        { exitCode: 0, cause: 0 },
        { exitCode: -1, cause: 1 },
      ].map((c) => ({ $typeName: "api.ContainerStatus", name: "c", message: "", reason: "", ...c })),
    });
    const bytes = encoded(ID, failed);
    expect(decodeArmadaMessage(bytes)).toEqual(reference(bytes));
    expect(decodeArmadaMessage(bytes).event?.failure?.exitCodes).toEqual([0, 3, 0, 9, 137]);
  });

  it("for a submitted job's external job URI, and only that annotation, however the job's bytes are laid out", () => {
    const uri = "airflow://dag/task/é😀";
    const submitted = (annotations: Record<string, string>) => eventMessage("submitted", "j", T0, { job: create(JobSchema, { id: "j", annotations }) });
    const plain = encoded(ID, submitted({ [URI_KEY]: uri, other: "x" }));
    expect(decodeArmadaMessage(plain)).toEqual(reference(plain));
    expect(decodeArmadaMessage(plain).event?.externalJobUri).toBe(uri);
    const none = encoded(ID, submitted({ other: "x" }));
    expect(decodeArmadaMessage(none).event?.externalJobUri).toBe("");
    // Map entries with the value before the key, or a key and no value, and a later copy of the job merging in.
    const entry = (fields: Uint8Array) => new BinaryWriter().tag(10, WireType.LengthDelimited).bytes(fields).finish();
    const key = new BinaryWriter().tag(1, WireType.LengthDelimited).string(URI_KEY).finish();
    const value = (text: string) => new BinaryWriter().tag(2, WireType.LengthDelimited).string(text).finish();
    const podSpec = new BinaryWriter().tag(12, WireType.LengthDelimited).bytes(new Uint8Array(300).fill(7)).finish();
    for (const jobFields of [
      concat(podSpec, entry(concat(value("first"), key)), podSpec),
      concat(entry(key)),
      concat(entry(concat(key, value("a"))), entry(concat(value("b"), key, value("c")))),
      concat(entry(concat(key, value("a"))), entry(concat(new BinaryWriter().tag(1, WireType.LengthDelimited).string("other").finish(), value("b")))),
    ]) {
      const job = new BinaryWriter().tag(5, WireType.LengthDelimited).bytes(jobFields).finish();
      const event = new BinaryWriter()
        .tag(1, WireType.LengthDelimited)
        .bytes(concat(new BinaryWriter().tag(1, WireType.LengthDelimited).string("j").finish(), job))
        .finish();
      const bytes = concat(
        new BinaryWriter().tag(1, WireType.LengthDelimited).string(ID).finish(),
        new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(event).finish(),
      );
      expect(decodeArmadaMessage(bytes), Buffer.from(bytes).toString("hex")).toEqual(reference(bytes));
      // The same job sent again merges into the first, as a repeated message field does.
      const twice = concat(bytes, encoded("", submitted({ other: "y" })));
      expect(decodeArmadaMessage(twice)).toEqual(reference(twice));
    }
  });

  it("for random events of every case, with unknown fields of every wire type where they may appear", () => {
    const prng = createPrng(20261202);
    for (let i = 0; i < 3_000; i++) {
      const event = randomEvent(prng);
      const bytes = encoded(`${T0}:${i}:0:1`, event);
      expect(decodeArmadaMessage(bytes), `message ${i}`).toEqual(reference(bytes));
      // The same message with fields no build knows around it: at the top, and after the event.
      const padded = concat(unknownField(prng), bytes, unknownField(prng));
      expect(decodeArmadaMessage(padded), `padded message ${i}`).toEqual(reference(padded));
    }
  });

  it("merging as protobuf merges: a repeated message field merges, a later oneof case replaces, a later scalar wins", () => {
    const prng = createPrng(7);
    for (let i = 0; i < 1_000; i++) {
      // The concatenation of two encoded messages is the merge of the two.
      const bytes = concat(encoded(`a${i}`, randomEvent(prng)), encoded(prng.chance(0.5) ? "" : `b${i}`, prng.chance(0.8) ? randomEvent(prng) : undefined));
      expect(decodeArmadaMessage(bytes), `merge ${i}`).toEqual(reference(bytes));
    }
    const sameCase = concat(
      encoded(ID, eventMessage("running", "j", T0, { clusterId: "c1", nodeName: "n1" })),
      encoded("", eventMessage("running", "", T0 + 5, { nodeName: "n2" })),
    );
    expect(decodeArmadaMessage(sameCase).event).toMatchObject({ case: "running", jobId: "j", clusterId: "c1", nodeName: "n2", createdMs: T0 + 5 });
  });

  it("for a message with no event, and an event of a case this build does not know", () => {
    for (const bytes of [encoded(ID, undefined), encoded(ID, create(EventMessageSchema, {})), wireMessage(ID, unknownCaseEvent("a")), new Uint8Array(0)]) {
      expect(decodeArmadaMessage(bytes)).toEqual(reference(bytes));
      expect(decodeArmadaMessage(bytes).event).toBeUndefined();
    }
  });

  it("agrees with fromBinary on damaged bytes both accept, and only ever throws Errors on the rest", () => {
    const prng = createPrng(99);
    const valid = encoded(ID, eventMessage("failed", "job", T0, { reason: "r", clusterId: "c", exitCodes: { main: 1 } }));
    for (let i = 0; i < 5_000; i++) {
      const bytes = valid.slice(0, prng.int(0, valid.length));
      for (let flips = prng.int(0, 3); flips > 0; flips--) if (bytes.length > 0) bytes[prng.int(0, bytes.length - 1)] = prng.int(0, 255);
      let referenceFailed = false;
      try {
        fromBinary(EventStreamMessageSchema, bytes);
      } catch {
        referenceFailed = true;
      }
      try {
        decodeArmadaMessage(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(Error);
        continue;
      }
      // Accepting what fromBinary refuses happens where the damage sits in a field the decoder skips unread; where both accept, they agree.
      if (!referenceFailed) expect(decodeArmadaMessage(bytes), Buffer.from(bytes).toString("hex")).toEqual(reference(bytes));
    }
  });
});

describe("decoding a payload the stream delivers", () => {
  function decodeReporting(bytes: Uint8Array): { decoded: ReturnType<typeof decodeEvent>; reports: UndecodableEvent[] } {
    const reports: UndecodableEvent[] = [];
    return { decoded: decodeEvent(bytes, (problem) => reports.push(problem)), reports };
  }

  it("gives a valid message as the subscriber reads it, reporting nothing", () => {
    const bytes = encoded(ID, eventMessage("running", "a", T0, { clusterId: "c1" }));
    expect(decodeReporting(bytes)).toEqual({ decoded: reference(bytes), reports: [] });
  });

  it("gives an event of a case this build does not know as a message with no event: no problem at all", () => {
    expect(decodeReporting(wireMessage(ID, unknownCaseEvent("a")))).toEqual({ decoded: { id: ID, event: undefined }, reports: [] });
  });

  it.each(Object.entries(MALFORMED_EVENTS))("reports an event with %s, and keeps only its id, to move the cursor past it", (_kind, payload) => {
    const bytes = wireMessage(ID, payload);
    const { decoded, reports } = decodeReporting(bytes);
    expect(decoded).toEqual({ id: ID, event: undefined });
    expect(reports).toEqual([{ messageId: ID, bytes: bytes.length, error: expect.stringMatching(/./) }]);
  });

  it.each([
    ["bytes that are not protobuf at all", Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)],
    ["a message cut short after its id", wireMessage(ID, Uint8Array.of(0x12, 0x02, 0x0a, 0x01, 0x61)).subarray(0, -2)],
    [
      "an id that is not UTF-8",
      new BinaryWriter()
        .tag(1, WireType.LengthDelimited)
        .bytes(Uint8Array.of(0x31, 0xc3))
        .tag(2, WireType.LengthDelimited)
        .bytes(MALFORMED_EVENTS["a length past the end"])
        .finish(),
    ],
    ["no id", new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(MALFORMED_EVENTS["a length past the end"]).finish()],
    ["an empty id", wireMessage("", MALFORMED_EVENTS["a length past the end"])],
    ["an id after a broken field", Uint8Array.of(0x17, ...wireMessage(ID, Uint8Array.of()))],
  ])("reports %s, with no id: the message is skipped and the cursor stays", (_kind, bytes) => {
    expect(decodeReporting(bytes)).toEqual({ decoded: undefined, reports: [{ bytes: bytes.length, error: expect.stringMatching(/./) }] });
  });
});

describe("reading only the id of a message", () => {
  it("skips the fields around it, whatever their wire type", () => {
    const bytes = new BinaryWriter()
      .tag(5, WireType.Varint)
      .uint64(1n << 60n)
      .tag(6, WireType.Bit64)
      .fixed64(7n)
      .tag(7, WireType.Bit32)
      .fixed32(7)
      .tag(1, WireType.LengthDelimited)
      .string(ID)
      .tag(2, WireType.LengthDelimited)
      .bytes(MALFORMED_EVENTS["a truncated varint (the event's length)"])
      .finish();
    expect(readMessageId(bytes)).toBe(ID);
  });

  it("takes the last id when there are several, as protobuf does", () => {
    const bytes = new BinaryWriter().tag(1, WireType.LengthDelimited).string("first").tag(1, WireType.LengthDelimited).string(ID).finish();
    expect(readMessageId(bytes)).toBe(ID);
  });
});
