import { constants, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import { gunzipSync } from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import { findTrailerError, validateResponse } from "@connectrpc/connect/protocol-grpc";

/**
 * Reads a gRPC server-streaming response straight off an HTTP/2 stream: each
 * length-prefixed frame goes to `decode` as it completes (a payload it turns
 * into undefined is passed over), and the messages are handed over in
 * batches, all that arrived since the consumer last asked, so a busy stream
 * costs one async step per batch rather than per message. This replaces
 * connect's per-message async-generator pipeline on the one hot stream the
 * subscriber reads (Armada's event stream); errors come out as the same
 * ConnectErrors connect's gRPC transport raises, from connect's own header
 * and trailer validation.
 */
export async function* readGrpcStream<T>(
  stream: ClientHttp2Stream,
  decode: (bytes: Uint8Array) => T | undefined,
  onBytes: () => void,
  signal: AbortSignal,
): AsyncGenerator<readonly T[]> {
  let frames = frameReader(undefined);
  let ready: T[] = [];
  let failure: ConnectError | undefined;
  let ended = false;
  let headers: IncomingHttpHeaders | undefined;
  let trailers: IncomingHttpHeaders | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const fail = (error: ConnectError): void => {
    failure ??= error;
    notify();
  };

  stream.on("response", (received) => {
    headers = received;
    try {
      const parsed = toHeaders(received);
      const { headerError } = validateResponse(Number(received[":status"]), parsed);
      if (headerError) fail(headerError);
      frames = frameReader(responseEncoding(parsed));
    } catch (error) {
      fail(ConnectError.from(error));
    }
  });
  stream.on("data", (chunk: Buffer) => {
    onBytes();
    try {
      frames.push(chunk, (payload) => {
        const message = decode(payload);
        if (message !== undefined) ready.push(message);
      });
    } catch (error) {
      fail(error instanceof ConnectError ? error : new ConnectError(`parse binary: ${describe(error)}`, Code.Internal));
      stream.close(constants.NGHTTP2_CANCEL);
    }
    // Back-pressure: stop reading while the consumer is behind.
    if (ready.length >= HIGH_WATER) stream.pause();
    notify();
  });
  stream.on("trailers", (received) => {
    trailers = received;
  });
  stream.on("end", () => {
    ended = true;
    notify();
  });
  stream.on("error", (error: Error) => fail(connectErrorFromNodeReason(error)));
  stream.on("close", () => {
    // A clean close without END_STREAM leaves the status check to report "missing status", as connect does.
    if (!ended && stream.rstCode !== constants.NGHTTP2_NO_ERROR) fail(resetError(stream.rstCode));
    ended = true;
    notify();
  });
  const abort = (): void => {
    fail(ConnectError.from(signal.reason, Code.Canceled));
    stream.close(constants.NGHTTP2_CANCEL);
  };
  if (signal.aborted) abort();
  else signal.addEventListener("abort", abort, { once: true });

  try {
    for (;;) {
      // What arrived before a failure is delivered first, as a cancellation is not.
      if (ready.length > 0) {
        const batch = ready;
        ready = [];
        if (stream.isPaused()) stream.resume();
        if (signal.aborted) throw failure ?? ConnectError.from(signal.reason, Code.Canceled);
        yield batch;
        continue;
      }
      if (failure) throw failure;
      if (ended) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    if (frames.pending() > 0) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
    const status = trailers ?? headers;
    if (!status || status["grpc-status"] === undefined) throw new ConnectError("protocol error: missing status", Code.Internal);
    const error = findTrailerError(toHeaders(status));
    if (error) throw error;
  } finally {
    signal.removeEventListener("abort", abort);
    // A stream the server ended (END_STREAM) and we had ended closes by itself; only one cut short is reset.
    if (!stream.closed && !(ended && failure === undefined)) stream.close(constants.NGHTTP2_CANCEL);
  }
}

/** Messages queued before the stream is paused: about one store write's worth. */
const HIGH_WATER = 256;
const PREFIX_BYTES = 5;
const FLAG_COMPRESSED = 0b1;

/** The encodings this reader decompresses; it asks for none, but a server may compress anyway. */
type Encoding = "gzip";

function responseEncoding(headers: Headers): Encoding | undefined {
  const encoding = headers.get("grpc-encoding");
  if (encoding === null || encoding.toLowerCase() === "identity") return undefined;
  if (encoding === "gzip") return encoding;
  throw new ConnectError(`unsupported response encoding "${encoding}"`, Code.Internal, headers);
}

/** Splits a byte stream into gRPC message payloads, decompressing compressed ones. */
export function frameReader(encoding: Encoding | undefined): { push(chunk: Uint8Array, onMessage: (payload: Uint8Array) => void): void; pending(): number } {
  let buffered: Uint8Array = new Uint8Array(0);
  return {
    /** Hands over each message as it completes, so those before a bad one are not lost with it. */
    push(chunk, onMessage) {
      let data = buffered.length === 0 ? chunk : concat(buffered, chunk);
      let offset = 0;
      while (data.length - offset >= PREFIX_BYTES) {
        const flags = data[offset]!;
        const length = ((data[offset + 1]! << 24) | (data[offset + 2]! << 16) | (data[offset + 3]! << 8) | data[offset + 4]!) >>> 0;
        if (data.length - offset - PREFIX_BYTES < length) break;
        const payload = data.subarray(offset + PREFIX_BYTES, offset + PREFIX_BYTES + length);
        offset += PREFIX_BYTES + length;
        if ((flags & FLAG_COMPRESSED) === 0) onMessage(payload);
        else if (encoding === undefined) throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal);
        else onMessage(gunzip(payload));
      }
      data = data.subarray(offset);
      // Keep only the unread tail, so one big chunk is not held for a small leftover.
      buffered = data.length === 0 ? new Uint8Array(0) : data.slice();
    },
    pending: () => buffered.length,
  };
}

function gunzip(payload: Uint8Array): Uint8Array {
  try {
    return gunzipSync(payload);
  } catch (error) {
    throw ConnectError.from(error, Code.Internal);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}

function toHeaders(received: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(received)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, String(value));
  }
  return headers;
}

/** The codes connect-node gives a stream reset by the server (its own table, not exported). */
function resetError(rstCode: number): ConnectError {
  const name = RESET_NAMES[rstCode] ?? "UNKNOWN";
  const message = `http/2 stream closed with error code ${name} (0x${rstCode.toString(16)})`;
  switch (rstCode) {
    case constants.NGHTTP2_REFUSED_STREAM:
      return new ConnectError(message, Code.Unavailable);
    case constants.NGHTTP2_CANCEL:
      return new ConnectError(message, Code.Canceled);
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return new ConnectError(message, Code.ResourceExhausted);
    case constants.NGHTTP2_INADEQUATE_SECURITY:
    case constants.NGHTTP2_HTTP_1_1_REQUIRED:
      return new ConnectError(message, Code.PermissionDenied);
    default:
      return new ConnectError(message, Code.Internal);
  }
}

/** RFC 9113 §7 error codes, by number. */
const RESET_NAMES: readonly string[] = [
  "NO_ERROR",
  "PROTOCOL_ERROR",
  "INTERNAL_ERROR",
  "FLOW_CONTROL_ERROR",
  "SETTINGS_TIMEOUT",
  "STREAM_CLOSED",
  "FRAME_SIZE_ERROR",
  "REFUSED_STREAM",
  "CANCEL",
  "COMPRESSION_ERROR",
  "CONNECT_ERROR",
  "ENHANCE_YOUR_CALM",
  "INADEQUATE_SECURITY",
  "HTTP_1_1_REQUIRED",
];

/** Node's stream and socket errors as connect-node classifies them. */
function connectErrorFromNodeReason(error: Error): ConnectError {
  const codes = errorChain(error).map((e) => (e as NodeJS.ErrnoException).code);
  const code = codes.some((c) => c !== undefined && ABORTED_NODE_CODES.has(c))
    ? Code.Aborted
    : codes.some((c) => c !== undefined && UNAVAILABLE_NODE_CODES.has(c))
      ? Code.Unavailable
      : Code.Internal;
  const converted = ConnectError.from(error, code);
  if (converted !== error) converted.cause = error;
  return converted;
}

function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current instanceof Error && chain.length < 10; current = current.cause) chain.push(current);
  return chain;
}

const ABORTED_NODE_CODES: ReadonlySet<string> = new Set(["ERR_STREAM_WRITE_AFTER_END", "ERR_STREAM_DESTROYED", "ERR_HTTP2_INVALID_STREAM", "ECONNRESET"]);
const UNAVAILABLE_NODE_CODES: ReadonlySet<string> = new Set(["ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED"]);

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
