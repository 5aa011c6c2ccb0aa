import http2, { constants, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event, EventStreamMessageSchema, JobSetRequestSchema, type EventStreamMessage } from "../../src/gen/api/event_pb.js";
import { createArmadaClient, type ArmadaClient, type JobSetStreamRequest } from "../../src/armada/armada-client.js";
import { decodeArmadaMessage, jobEventOf, type ArmadaMessage, type UndecodableEvent } from "../../src/armada/decode-event.js";
import { frameReader, readGrpcStream } from "../../src/armada/grpc-stream.js";
import { startSimulator } from "../../src/simulator/index.js";

/** What a reader made of one response: the messages in order, then how it ended. */
interface Outcome {
  readonly messages: string[];
  readonly error?: { readonly code: string; readonly message: string };
}

const QUEUE = "differential";

function message(index: number): Uint8Array {
  return toBinary(
    EventStreamMessageSchema,
    create(EventStreamMessageSchema, {
      id: `0000000001:${index}:0:0`,
      message: { events: { case: "queued", value: { jobId: `job-${index}`, jobSetId: "s", queue: QUEUE } } },
    }),
  );
}

function frame(payload: Uint8Array, flags = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(flags, 0);
  prefix.writeUInt32BE(payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

const GRPC = { ":status": 200, "content-type": "application/grpc+proto" };
const OK = { "grpc-status": "0" };
const three = Buffer.concat([message(1), message(2), message(3)].map((m) => frame(m)));
/** The one scenario where the client means to differ from connect's: it skips the message instead of failing. */
const NOT_PROTOBUF = "a message that is not protobuf, between good ones";

/** Each scenario answers one job set id, the way a server (Armada, a proxy, a broken peer) might. */
const SCENARIOS: Readonly<Record<string, (stream: ServerHttp2Stream) => void>> = {
  "messages then OK": (s) => {
    s.respond(GRPC, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers(OK));
    s.end(three);
  },
  "messages split across many small DATA frames": (s) => {
    s.respond(GRPC, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers(OK));
    for (let i = 0; i < three.length; i += 7) s.write(three.subarray(i, i + 7));
    s.end();
  },
  "no messages, OK": (s) => {
    s.respond(GRPC, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers(OK));
    s.end();
  },
  "trailers-only PERMISSION_DENIED": (s) => {
    s.respond({ ...GRPC, "grpc-status": "7", "grpc-message": "may not watch queue %22differential%22" }, { endStream: true });
  },
  "messages then UNAVAILABLE in the trailers": (s) => {
    s.respond(GRPC, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "14", "grpc-message": "server going away" }));
    s.end(Buffer.concat([frame(message(1)), frame(message(2))]));
  },
  "messages, no status at all": (s) => {
    s.respond(GRPC);
    s.end(frame(message(1)));
  },
  "OK after half a message": (s) => {
    s.respond(GRPC, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers(OK));
    s.end(frame(message(1)).subarray(0, 9));
  },
  "HTTP 503 from a proxy": (s) => {
    s.respond({ ":status": 503, "content-type": "text/plain" });
    s.end("upstream unavailable");
  },
  "HTTP 200 with an HTML body": (s) => {
    s.respond({ ":status": 200, "content-type": "text/html" });
    s.end("<html></html>");
  },
  "gzip-compressed messages": (s) => {
    s.respond({ ...GRPC, "grpc-encoding": "gzip" }, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers(OK));
    s.end(Buffer.concat([frame(gzipSync(message(1)), 1), frame(message(2)), frame(gzipSync(message(3)), 1)]));
  },
  "a compressed message without an encoding": (s) => {
    s.respond(GRPC, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers(OK));
    s.end(Buffer.concat([frame(message(1)), frame(gzipSync(message(2)), 1)]));
  },
  "an unknown encoding": (s) => {
    s.respond({ ...GRPC, "grpc-encoding": "snappy" }, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers(OK));
    s.end(frame(message(1)));
  },
  [NOT_PROTOBUF]: (s) => {
    s.respond(GRPC, { waitForTrailers: true });
    s.on("wantTrailers", () => s.sendTrailers(OK));
    s.end(Buffer.concat([frame(message(1)), frame(Buffer.from([0xff, 0xff, 0xff])), frame(message(2))]));
  },
  "reset with REFUSED_STREAM": (s) => {
    s.respond(GRPC);
    s.write(frame(message(1)));
    setTimeout(() => s.close(constants.NGHTTP2_REFUSED_STREAM), 20);
  },
  "reset with ENHANCE_YOUR_CALM before any answer": (s) => {
    s.close(constants.NGHTTP2_ENHANCE_YOUR_CALM);
  },
};

let server: http2.Http2Server;
let baseUrl: string;
let lean: ArmadaClient;
const undecodable: Array<{ request: JobSetStreamRequest; problem: UndecodableEvent }> = [];

const sessions = new Set<http2.ServerHttp2Session>();

beforeAll(async () => {
  server = http2.createServer();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream) => {
    // A server that resets its own stream sees that as an error of the stream; that is the point here.
    stream.on("error", () => undefined);
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      const request = fromBinary(JobSetRequestSchema, Buffer.concat(chunks).subarray(5));
      SCENARIOS[request.id]?.(stream);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  lean = createArmadaClient({
    url: baseUrl,
    authorization: () => Promise.resolve(undefined),
    maxConnections: 1,
    maxStreamsPerConnection: 100,
    keepaliveIntervalMs: 10_000,
    keepaliveTimeoutMs: 10_000,
    healthTimeoutMs: 1_000,
    onUndecodable: (request, problem) => undecodable.push({ request, problem }),
  });
});
afterAll(async () => {
  lean.close();
  for (const session of sessions) session.destroy();
  await new Promise((resolve) => server.close(resolve));
});

/** connect's messages as the subscriber reads them, for comparing what both readers make of a stream. */
async function* reduced(read: AsyncIterable<EventStreamMessage>): AsyncIterable<ArmadaMessage> {
  for await (const m of read) yield { id: m.id, event: jobEventOf(m.message) };
}

/** The lean reader's batches, one message at a time, as connect hands them over. */
async function* unbatched(read: AsyncIterable<readonly ArmadaMessage[]>): AsyncIterable<ArmadaMessage> {
  for await (const batch of read) yield* batch;
}

async function outcomeOf(read: AsyncIterable<ArmadaMessage>): Promise<Outcome> {
  const messages: string[] = [];
  try {
    for await (const m of read) messages.push(JSON.stringify(m));
    return { messages };
  } catch (error) {
    const { code, rawMessage } = ConnectError.from(error);
    return { messages, error: { code: Code[code], message: rawMessage } };
  }
}

describe("the event stream's lean reader speaks gRPC as connect's transport does", () => {
  it.each(Object.keys(SCENARIOS).filter((name) => name !== NOT_PROTOBUF))("%s", async (jobSetId) => {
    const signal = AbortSignal.timeout(5_000);
    const connect = createClient(Event, createGrpcTransport({ baseUrl }));
    const expected = await outcomeOf(reduced(connect.getJobSetEvents({ id: jobSetId, queue: QUEUE, fromMessageId: "", watch: false }, { signal })));
    const actual = await outcomeOf(unbatched(lean.jobSetEvents({ queue: QUEUE, jobSetId, fromMessageId: "", watch: false }, signal)));
    expect(actual).toEqual(expected);
  });

  it("fails the stream on a payload its decoder throws on, as connect does", async () => {
    const signal = AbortSignal.timeout(5_000);
    const connect = createClient(Event, createGrpcTransport({ baseUrl }));
    const expected = await outcomeOf(reduced(connect.getJobSetEvents({ id: NOT_PROTOBUF, queue: QUEUE, fromMessageId: "", watch: false }, { signal })));
    const session = http2.connect(baseUrl);
    try {
      const stream = session.request({ ":method": "POST", ":path": "/api.Event/GetJobSetEvents", "content-type": "application/grpc+proto", te: "trailers" });
      stream.end(frame(toBinary(JobSetRequestSchema, create(JobSetRequestSchema, { id: NOT_PROTOBUF, queue: QUEUE }))));
      const strict = (bytes: Uint8Array): ArmadaMessage => decodeArmadaMessage(bytes);
      const actual = await outcomeOf(unbatched(readGrpcStream(stream, strict, () => undefined, signal)));
      expect(expected).toMatchObject({ messages: [JSON.stringify(decodeArmadaMessage(message(1)))], error: { code: "Internal" } });
      expect(actual).toEqual(expected);
    } finally {
      session.close();
    }
  });

  it("but the client skips a message that is not protobuf, tells onUndecodable, and reads on", async () => {
    const request = { queue: QUEUE, jobSetId: NOT_PROTOBUF, fromMessageId: "", watch: false };
    const outcome = await outcomeOf(unbatched(lean.jobSetEvents(request, AbortSignal.timeout(5_000))));
    expect(outcome).toEqual({ messages: [message(1), message(2)].map((m) => JSON.stringify(decodeArmadaMessage(m))) });
    expect(undecodable).toEqual([{ request, problem: { bytes: 3, error: expect.any(String) } }]);
  });

  it("leaves a stream the server ended to close by itself: no reset is sent after END_STREAM", async () => {
    server.once("stream", (stream) => {
      stream.respond(GRPC, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers(OK));
      stream.end(frame(message(1)));
    });
    const session = http2.connect(baseUrl);
    try {
      const stream = session.request({ ":method": "POST", ":path": "/api.Event/GetJobSetEvents", "content-type": "application/grpc+proto", te: "trailers" });
      stream.end(frame(toBinary(JobSetRequestSchema, create(JobSetRequestSchema, { id: "ends by itself", queue: QUEUE }))));
      const closed = new Promise<void>((resolve) => stream.once("close", resolve));
      const outcome = await outcomeOf(unbatched(readGrpcStream(stream, decodeArmadaMessage, () => undefined, AbortSignal.timeout(5_000))));
      await closed;
      expect(outcome).toEqual({ messages: [JSON.stringify(decodeArmadaMessage(message(1)))] });
      expect(stream.rstCode).toBe(constants.NGHTTP2_NO_ERROR);
    } finally {
      session.close();
    }
  });

  it("is cancelled by its signal, as a connect call is, and the server sees the stream reset", async () => {
    const reset = new Promise<number>((resolve) => {
      server.once("stream", (stream) => {
        stream.respond(GRPC);
        stream.write(frame(message(1)));
        stream.on("close", () => resolve(stream.rstCode));
      });
    });
    const controller = new AbortController();
    const outcome = outcomeOf(
      (async function* () {
        for await (const m of unbatched(lean.jobSetEvents({ queue: QUEUE, jobSetId: "held open", fromMessageId: "", watch: true }, controller.signal))) {
          yield m;
          controller.abort(new Error("caller gave up"));
        }
      })(),
    );
    expect(await outcome).toMatchObject({ messages: [expect.any(String)], error: { code: "Canceled" } });
    expect(await reset).toBe(constants.NGHTTP2_CANCEL);
  });
});

describe("against the simulator", () => {
  it("reads a job set's whole history exactly as connect's client does", async () => {
    const sim = await startSimulator({ queues: [QUEUE] });
    const client = createArmadaClient({
      url: sim.url,
      authorization: () => Promise.resolve(undefined),
      maxConnections: 1,
      maxStreamsPerConnection: 10,
      keepaliveIntervalMs: 10_000,
      keepaliveTimeoutMs: 10_000,
      healthTimeoutMs: 1_000,
    });
    try {
      const load = sim.bulkLoad({ queue: QUEUE, jobSets: 1, jobsPerSet: 300, eventsPerSecond: Infinity, jobSetPrefix: "history-" });
      await load.done;
      const jobSetId = load.jobs[0]!.jobSetId;
      const signal = AbortSignal.timeout(10_000);
      const connect = createClient(Event, createGrpcTransport({ baseUrl: sim.url }));
      const expected = await outcomeOf(reduced(connect.getJobSetEvents({ id: jobSetId, queue: QUEUE, fromMessageId: "", watch: false }, { signal })));
      const actual = await outcomeOf(unbatched(client.jobSetEvents({ queue: QUEUE, jobSetId, fromMessageId: "", watch: false }, signal)));
      expect(expected.messages.length).toBe(load.totalEvents);
      expect(actual).toEqual(expected);
    } finally {
      client.close();
      await sim.close();
    }
  });
});

describe("the frame reader", () => {
  it("returns each message once whole, however the bytes are cut", () => {
    const bytes = Buffer.concat([frame(message(1)), frame(new Uint8Array(0)), frame(message(2))]);
    for (const cut of [1, 2, 5, 6, 13, bytes.length]) {
      const reader = frameReader(undefined);
      const out: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += cut) reader.push(bytes.subarray(i, i + cut), (m) => out.push(m));
      expect(out.map((m) => Buffer.from(m).toString("hex"))).toEqual([message(1), new Uint8Array(0), message(2)].map((m) => Buffer.from(m).toString("hex")));
      expect(reader.pending()).toBe(0);
    }
  });

  it("holds an unfinished message until the rest arrives", () => {
    const reader = frameReader(undefined);
    const out: Uint8Array[] = [];
    reader.push(frame(message(1)).subarray(0, 8), (m) => out.push(m));
    expect(out).toEqual([]);
    expect(reader.pending()).toBe(8);
  });
});
