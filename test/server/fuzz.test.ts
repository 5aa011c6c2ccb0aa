import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServiceRequestSchema, JobServiceResponseSchema } from "../../src/gen/jobservice/jobservice_pb.js";
import { createPrng, type Prng } from "../../src/simulator/prng.js";
import { fuzzIterations, fuzzSeed, rawExchange, startFuzzTarget, type FuzzTarget } from "../support/fuzz-target.js";
import { grpcFrame, http1Request } from "../support/http.js";

// Small limits, so that every bound is reached within a few cases.
const MAX_REQUEST_BYTES = 8192;
const REQUEST_TIMEOUT_SECONDS = 2;
const ITERATIONS = fuzzIterations(300);
const SEED = fuzzSeed();
const PATH = "/jobservice.JobService/GetJobStatus";

let target: FuzzTarget;
beforeAll(async () => {
  target = await startFuzzTarget({
    JOBSERVICE_MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES),
    JOBSERVICE_REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_SECONDS),
  });
}, 30_000);
afterAll(async () => {
  await target?.stop();
});

interface GrpcAnswer {
  readonly status: number;
  readonly grpcStatus?: string;
  readonly message: string;
  readonly body: Buffer;
}

function grpcCall(session: http2.ClientHttp2Session, headers: Record<string, string>, body: Buffer): Promise<GrpcAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": PATH, "content-type": "application/grpc", te: "trailers", ...headers });
    let status = 0;
    let grpcStatus: string | undefined;
    let message = "";
    const chunks: Buffer[] = [];
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
    };
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      take(h);
    });
    stream.on("trailers", take);
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve({ status, grpcStatus, message, body: Buffer.concat(chunks) }));
    stream.on("error", reject);
    stream.end(body);
  });
}

const requestBytes = (queue: string, jobSetId: string, jobId: string): Uint8Array =>
  toBinary(JobServiceRequestSchema, create(JobServiceRequestSchema, { queue, jobSetId, jobId }));

function randomBytes(prng: Prng, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = prng.int(0, 255);
  return bytes;
}

function randomId(prng: Prng): string {
  const alphabet = "abcXYZ019:-_{}%é😀 ";
  const chars = [...alphabet];
  return Array.from({ length: prng.int(0, 12) }, () => chars[prng.int(0, chars.length - 1)]).join("");
}

/** One fuzz case: what it sends and which gRPC status codes are right for it. */
interface GrpcCase {
  readonly name: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly allowed: readonly string[];
}

/** gRPC cases, each with the codes the gRPC spec (and connect-es, where the spec leaves room) gives for it. */
function grpcCase(prng: Prng): GrpcCase {
  const valid = Buffer.from(requestBytes(randomId(prng), randomId(prng), randomId(prng)));
  switch (prng.int(0, 8)) {
    case 0: {
      // A well-formed request: an answer, or INVALID_ARGUMENT when an id is empty.
      return { name: "valid message", headers: {}, body: grpcFrame(valid), allowed: ["0", "3"] };
    }
    case 1: {
      const frame = grpcFrame(valid);
      const cut = prng.int(1, frame.length - 1);
      // connect-es: a frame cut short is INVALID_ARGUMENT; a bare 5-byte prefix with nothing after it counts as
      // no message at all, which it reports as a cardinality violation (UNIMPLEMENTED), as grpc-go does.
      return { name: `frame truncated at ${cut} of ${frame.length}`, headers: {}, body: frame.subarray(0, cut), allowed: cut === 5 ? ["12"] : ["3"] };
    }
    case 2: {
      // Random bytes in a well-formed frame: they may even decode (as unknown fields).
      return { name: "random protobuf", headers: {}, body: grpcFrame(randomBytes(prng, prng.int(0, 200))), allowed: ["0", "3", "13"] };
    }
    case 3: {
      // Bit 0 of the flags byte says "compressed"; without grpc-encoding nothing can decompress it (gRPC: INTERNAL).
      const frame = grpcFrame(valid);
      frame[0] = prng.int(0, 255);
      const compressed = (frame[0] & 1) === 1;
      return { name: `flags 0x${frame[0].toString(16)}`, headers: {}, body: frame, allowed: compressed ? ["13"] : ["0", "3"] };
    }
    case 4: {
      const frame = grpcFrame(prng.chance(0.5) ? gzipSync(valid) : randomBytes(prng, 30));
      frame[0] = 1;
      const gzipped = frame.subarray(5, 7).equals(Buffer.from([0x1f, 0x8b]));
      return { name: gzipped ? "gzip message" : "corrupt gzip", headers: { "grpc-encoding": "gzip" }, body: frame, allowed: gzipped ? ["0", "3"] : ["3"] };
    }
    case 5: {
      // An encoding the server does not support: UNIMPLEMENTED, as the gRPC spec says.
      return { name: "unknown grpc-encoding", headers: { "grpc-encoding": prng.chance(0.5) ? "zstd" : "snappy" }, body: grpcFrame(valid), allowed: ["12"] };
    }
    case 6: {
      // A 1 MiB id: the message is larger than the request limit.
      const huge = Buffer.from(requestBytes("q", "s", "j".repeat(1024 * 1024)));
      return { name: "1 MiB job id", headers: {}, body: grpcFrame(huge), allowed: ["8"] };
    }
    case 7: {
      // A length prefix far beyond the limit, with little behind it.
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), randomBytes(prng, 10)]);
      frame.writeUInt32BE(prng.int(MAX_REQUEST_BYTES + 1, 0xffffffff), 1);
      return { name: `length prefix ${frame.readUInt32BE(1)}`, headers: {}, body: frame, allowed: ["8"] };
    }
    default: {
      // Invalid UTF-8 in a string field: proto3 strings must be UTF-8, so the message does not decode.
      const bytes = Buffer.from([0x0a, 3, 0x61, 0xc3, 0x28, 0x12, 1, 0x73, 0x1a, 1, 0x6a]);
      return { name: "invalid UTF-8 in queue", headers: {}, body: grpcFrame(bytes), allowed: ["13"] };
    }
  }
}

/** Connect JSON cases over HTTP/1.1: the Connect code each must answer with (HTTP 200 for a normal answer). */
interface JsonCase {
  readonly name: string;
  readonly contentType: string;
  readonly body: Buffer;
  readonly allowed: readonly string[];
}

function jsonCase(prng: Prng): JsonCase {
  const valid = JSON.stringify({ queue: randomId(prng) || "q", jobSetId: randomId(prng) || "s", jobId: randomId(prng) || "j" });
  switch (prng.int(0, 6)) {
    case 0: {
      // Random edits of a valid body: whatever JSON results, the answer is a state or INVALID_ARGUMENT, never INTERNAL.
      const chars = [...valid];
      for (let n = prng.int(1, 4); n > 0; n--) {
        const at = prng.int(0, chars.length);
        if (prng.chance(0.5)) chars.splice(at, 1);
        else chars.splice(at, 0, String.fromCharCode(prng.int(32, 126)));
      }
      return { name: "mutated JSON", contentType: "application/json", body: Buffer.from(chars.join("")), allowed: ["ok", "invalid_argument"] };
    }
    case 1: {
      const depth = prng.int(100, Math.floor(MAX_REQUEST_BYTES / 2) - 10);
      const body = prng.chance(0.5) ? "[".repeat(depth) + "]".repeat(depth) : '{"queue":'.repeat(depth / 10) + "1" + "}".repeat(depth / 10);
      return { name: `JSON nested ${depth} deep`, contentType: "application/json", body: Buffer.from(body), allowed: ["invalid_argument"] };
    }
    case 2: {
      const size = prng.int(MAX_REQUEST_BYTES + 1, 4 * 1024 * 1024);
      const body = JSON.stringify({ queue: "q", jobSetId: "s", jobId: "j".repeat(size) });
      // The server answers before reading it all and closes the connection, which a client still
      // uploading may see first (EPIPE): then there is no answer to check, only that the server stopped it.
      return {
        name: `${size}-byte job id`,
        contentType: "application/json",
        body: Buffer.from(body),
        allowed: ["resource_exhausted", "closed while uploading"],
      };
    }
    case 3: {
      // JSON decoding replaces invalid UTF-8 with U+FFFD (WHATWG TextDecoder, as connect-es does): a valid answer or INVALID_ARGUMENT.
      const bytes = Buffer.from(valid);
      bytes[prng.int(1, bytes.length - 2)] = prng.int(0x80, 0xff);
      return { name: "invalid UTF-8 in JSON", contentType: "application/json", body: bytes, allowed: ["ok", "invalid_argument"] };
    }
    case 4: {
      const types = ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/jsonx", "image/png"];
      const type = types[prng.int(0, types.length - 1)] as string;
      return { name: `content type ${type}`, contentType: type, body: Buffer.from(valid), allowed: ["http 415"] };
    }
    case 5: {
      return {
        name: "random bytes as proto",
        contentType: "application/proto",
        body: randomBytes(prng, prng.int(1, 100)),
        allowed: ["ok", "invalid_argument", "internal"],
      };
    }
    default: {
      return { name: "valid JSON", contentType: "application/json", body: Buffer.from(valid), allowed: ["ok"] };
    }
  }
}

/** What a Connect unary answer says: "ok" for a decoded response, the error code otherwise, or the bare HTTP status. */
function connectOutcome(status: number, body: string, contentType: string): string {
  if (status === 200) {
    if (contentType === "application/json") JSON.parse(body);
    return "ok";
  }
  try {
    const code = (JSON.parse(body) as { code?: unknown }).code;
    if (typeof code === "string") return code;
  } catch {
    // An HTTP error without a Connect body, such as 415 for a content type Connect does not speak.
  }
  return `http ${status}`;
}

/** Random bytes behind a random opening, sent raw; the server answers 4xx or closes, and never with 5xx. */
function junk(prng: Prng): { name: string; bytes: Buffer } {
  const openings = [
    "",
    "GET / HTTP/1.1\r\n",
    `POST ${PATH} HTTP/1.1\r\nHost: x\r\n`,
    "GET /healthz HTTP/9.9\r\n",
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "\x16\x03\x01\x00\xa5",
  ];
  const opening = openings[prng.int(0, openings.length - 1)] as string;
  return {
    name: `junk after ${JSON.stringify(opening.slice(0, 20))}`,
    bytes: Buffer.concat([Buffer.from(opening, "latin1"), randomBytes(prng, prng.int(0, 3000))]),
  };
}

async function inBatches<T>(items: readonly T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(run));
}

describe(`fuzzing the service (seed ${SEED}, ${ITERATIONS} cases per protocol; FUZZ_SEED and FUZZ_ITERATIONS change them)`, () => {
  let baseline: { fds: number; rssBytes: number };
  beforeAll(async () => {
    // Warm up every path once, so that lazily created state is not mistaken for a leak.
    await http1Request(`${target.url}/healthz`);
    await http1Request(`${target.url}${PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"queue":"q","jobSetId":"s","jobId":"j"}',
    });
    baseline = target.stats();
  });

  it("answers every gRPC frame with the status code the gRPC spec gives it", async () => {
    const prng = createPrng(SEED);
    const cases = Array.from({ length: ITERATIONS }, () => grpcCase(prng));
    // The fuzzer queues megabytes of refused uploads at once: more than the client's default session memory.
    const wrong: string[] = [];
    // A session per batch: Node closes a connection that sent 1000 frames for streams already closed (its
    // flood protection), which hundreds of refused uploads on one connection would add up to.
    for (let i = 0; i < cases.length; i += 8) {
      // The fuzzer queues megabytes of refused uploads at once: more than the client's default session memory.
      const session = http2.connect(target.url, { maxSessionMemory: 256 });
      session.on("error", () => undefined);
      try {
        await Promise.all(
          cases.slice(i, i + 8).map(async (c) => {
            const answer = await grpcCall(session, c.headers, c.body).catch((error: Error) => ({
              status: -1,
              grpcStatus: `stream error ${error.message}`,
              message: "",
              body: Buffer.alloc(0),
            }));
            if (answer.status !== 200 || !c.allowed.includes(answer.grpcStatus ?? "none")) {
              wrong.push(`${c.name}: HTTP ${answer.status}, grpc-status ${answer.grpcStatus} (${answer.message}); expected ${c.allowed.join(" or ")}`);
            } else if (answer.grpcStatus === "0") {
              // A success carries one well-formed response message.
              fromBinary(JobServiceResponseSchema, answer.body.subarray(5));
            }
          }),
        );
      } finally {
        session.close();
      }
    }
    expect(wrong).toEqual([]);
  }, 60_000);

  it("answers every Connect request with the right code, over HTTP/1.1", async () => {
    const prng = createPrng(SEED + 1);
    const cases = Array.from({ length: ITERATIONS }, () => jsonCase(prng));
    const wrong: string[] = [];
    await inBatches(cases, 8, async (c) => {
      const res = await http1Request(`${target.url}${PATH}`, { method: "POST", headers: { "content-type": c.contentType }, body: c.body }).catch(
        (error: Error) => ({ status: -1, body: error.message, headers: {} }),
      );
      const outcome = res.status === -1 && /EPIPE|ECONNRESET/.test(res.body) ? "closed while uploading" : connectOutcome(res.status, res.body, c.contentType);
      if (!c.allowed.includes(outcome)) wrong.push(`${c.name}: ${outcome} (HTTP ${res.status}: ${res.body.slice(0, 120)}); expected ${c.allowed.join(" or ")}`);
    });
    expect(wrong).toEqual([]);
  }, 60_000);

  it("closes raw junk connections, answering at most with a 4xx, and never hangs on them", async () => {
    const prng = createPrng(SEED + 2);
    const cases = Array.from({ length: Math.ceil(ITERATIONS / 3) }, () => junk(prng));
    const wrong: string[] = [];
    await inBatches(cases, 8, async (c) => {
      // The request timeout bounds how long the server waits for the rest of a request.
      const exchange = await rawExchange(target.port, [c.bytes], { waitMs: (REQUEST_TIMEOUT_SECONDS + 3) * 1000 });
      const head = exchange.received.subarray(0, 12).toString("latin1");
      if (!exchange.closedByServer) wrong.push(`${c.name}: connection left open`);
      if (/^HTTP\/1\.[01] [^4]/.test(head)) wrong.push(`${c.name}: answered ${head}`);
    });
    expect(wrong).toEqual([]);
  }, 120_000);

  it("still answers, with no sockets or memory left behind", async () => {
    expect(target.alive()).toBe(true);
    const res = await http1Request(`${target.url}${PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"queue":"q","jobSetId":"s","jobId":"j"}',
    });
    expect(JSON.parse(res.body)).toEqual({ state: "JOB_ID_NOT_FOUND" });
    // Connections the fuzzer closed last may still be closing on the server's side.
    let after = target.stats();
    for (let wait = 0; wait < 50 && after.fds > baseline.fds + 5; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = target.stats();
    }
    console.log(
      `fuzz: ${ITERATIONS} cases per protocol; fds ${baseline.fds} → ${after.fds}, RSS ${(baseline.rssBytes / 2 ** 20).toFixed(0)} → ${(after.rssBytes / 2 ** 20).toFixed(0)} MiB`,
    );
    // Every connection the fuzzer opened is closed: the descriptors are back where they were.
    expect(after.fds).toBeLessThanOrEqual(baseline.fds + 5);
    expect(after.rssBytes).toBeLessThan(baseline.rssBytes + 200 * 2 ** 20);
  });
});
