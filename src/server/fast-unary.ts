import type http from "node:http";
import type http2 from "node:http2";
import type { DescMethodUnary } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext, type Interceptor, type MethodImplSpec } from "@connectrpc/connect";
import { compressionNegotiate, createMethodSerializationLookup, invokeUnaryImplementation, validateReadWriteMaxBytes, type Compression } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, parseTimeout as parseConnectTimeout, trailerMux } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

export interface FastUnaryOptions {
  /** The unary methods to serve, with the same implementations the connect router has. */
  readonly specs: readonly MethodImplSpec[];
  /** The connect router's interceptors, run the same way around each call. */
  readonly interceptors: readonly Interceptor[];
  /** The connect adapter's per-request context values (the caller check's transport facts). */
  readonly contextValues?: (req: Request) => ContextValues;
  readonly readMaxBytes: number;
  readonly acceptCompression: readonly Compression[];
  /** Told of each call the fast path answers (a metric: how much traffic skips connect). */
  readonly onServed?: (method: string) => void;
}

/** What the fast path needs of its options, with connect's own defaults filled in. */
interface Settings extends FastUnaryOptions {
  readonly writeMaxBytes: number;
  readonly compressMinBytes: number;
}

/**
 * Takes a request when it returns true; otherwise the request is untouched, or
 * its body was read and is replayed, so connect can serve it.
 */
export type FastUnary = (req: Request, res: Response, fallback: (req: Request, res: Response) => void) => boolean;

type Protocol = "grpc" | "connect";

interface Route {
  readonly spec: MethodImplSpec & { readonly kind: "unary"; readonly method: DescMethodUnary };
  readonly serialization: ReturnType<typeof createMethodSerializationLookup>;
}

/**
 * The common case of the hot unary RPCs, served straight on Node's request:
 * gRPC over HTTP/2 with `application/grpc[+proto]`, Connect unary with
 * `application/json` or `application/proto`, each POSTed to an exact path.
 * Everything else — other content types, GET, gRPC-Web, streaming, and any
 * request whose body is not one well-formed message — goes to connect, which
 * stays the reference: parsing, serialisation, compression, timeouts,
 * interceptors and error encoding all come from connect's own protocol
 * functions, so the answer is the same bytes. What this leaves out is
 * connect's per-call async-iterator pipeline, which dominates its CPU profile.
 */
export function createFastUnary(options: FastUnaryOptions): FastUnary {
  const settings: Settings = { ...options, ...validateReadWriteMaxBytes(options.readMaxBytes, undefined, undefined) };
  const routes = new Map<string, Route>();
  for (const spec of options.specs) {
    if (spec.kind !== "unary") throw new Error(`the fast path serves unary methods only, not ${spec.method.name}`);
    routes.set(`/${spec.method.parent.typeName}/${spec.method.name}`, {
      spec: spec as Route["spec"],
      serialization: createMethodSerializationLookup(spec.method, undefined, undefined, settings),
    });
  }

  return (req, res, fallback) => {
    if (req.method !== "POST") return false;
    const route = routes.get(req.url ?? "");
    if (!route) return false;
    const protocol = protocolOf(req);
    if (!protocol) return false;
    // Taken on arrival, as connect-node does: the transport facts are the connection's, not the body's.
    const values = settings.contextValues?.(req) ?? createContextValues();
    readBody(req, settings.readMaxBytes, (chunks, complete) => {
      const body = complete ? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) : undefined;
      const message = body && unaryMessage(protocol, body);
      if (message === undefined) {
        replayBody(req, chunks);
        fallback(req, res);
        return;
      }
      settings.onServed?.(route.spec.method.name);
      answer({ route, protocol, bytes: message, values }, req, res, settings).catch((error: unknown) => {
        // Only writing can fail here (the caller went away); connect-node drops such calls the same way.
        if (!res.headersSent) res.destroy(error instanceof Error ? error : undefined);
      });
    });
    return true;
  };
}

/** Only the plainest forms of each protocol; anything else is connect's to judge. */
function protocolOf(req: Request): Protocol | undefined {
  const type = req.headers["content-type"];
  if (req.httpVersionMajor === 2 && (type === "application/grpc" || type === "application/grpc+proto")) {
    const encoding = req.headers["grpc-encoding"];
    return encoding === undefined || encoding === "identity" ? "grpc" : undefined;
  }
  if (type === "application/json" || type === "application/proto") {
    return req.headers["content-encoding"] === undefined ? "connect" : undefined;
  }
  return undefined;
}

/**
 * Reads the request's bytes: all of them (`complete`), or those read when they
 * passed the limit, with the rest left in the paused stream.
 */
function readBody(req: Request, readMaxBytes: number, done: (chunks: Buffer[], complete: boolean) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const limit = readMaxBytes + GRPC_PREFIX_BYTES;
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      req.pause();
      finish();
      done(chunks, false);
    }
  };
  const onEnd = (): void => {
    finish();
    done(chunks, true);
  };
  const onError = (): void => finish();
  function finish(): void {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
  }
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
}

/**
 * Lets connect read a body this path already read: connect iterates the
 * request, so the instance's own iterator yields the chunks read, then
 * whatever the stream still holds.
 */
function replayBody(req: Request, chunks: readonly Buffer[]): void {
  const rest = (Object.getPrototypeOf(req) as { [Symbol.asyncIterator]: (this: Request) => AsyncIterator<Buffer> })[Symbol.asyncIterator];
  Object.defineProperty(req, Symbol.asyncIterator, {
    configurable: true,
    value: async function* replay(this: Request): AsyncGenerator<Buffer> {
      yield* chunks;
      const it = rest.call(this);
      for (let next = await it.next(); next.done !== true; next = await it.next()) yield next.value;
    },
  });
}

const GRPC_PREFIX_BYTES = 5;
const CALL_ANSWERED = new ConnectError("the call was answered", Code.Canceled);

/** The one message of a well-formed unary body, or undefined for connect to explain what is wrong. */
function unaryMessage(protocol: Protocol, body: Buffer): Uint8Array | undefined {
  if (protocol === "connect") return body;
  if (body.length < GRPC_PREFIX_BYTES || body[0] !== 0) return undefined;
  const length = body.readUInt32BE(1);
  if (body.length !== GRPC_PREFIX_BYTES + length) return undefined;
  return body.subarray(GRPC_PREFIX_BYTES);
}

/** One call the fast path took: its method, protocol, request message and context values. */
interface Call {
  readonly route: Route;
  readonly protocol: Protocol;
  readonly bytes: Uint8Array;
  readonly values: ContextValues;
}

async function answer({ route, protocol, bytes, values }: Call, req: Request, res: Response, options: Settings): Promise<void> {
  const acceptCompression = [...options.acceptCompression];
  const binary = protocol === "grpc" || req.headers["content-type"] === "application/proto";
  const requestHeader = webHeaders(req.headers);
  const timeout = protocol === "grpc" ? parseGrpcTimeout(requestHeader.get("grpc-timeout"), Number.MAX_SAFE_INTEGER) : parseConnectTimeout(requestHeader.get("connect-timeout-ms"), Number.MAX_SAFE_INTEGER);
  const compression = protocol === "grpc"
    ? compressionNegotiate(acceptCompression, null, requestHeader.get("grpc-accept-encoding"), "grpc-accept-encoding")
    : compressionNegotiate(acceptCompression, null, requestHeader.get("accept-encoding"), "accept-encoding");
  const context = callContext({
    route,
    protocol,
    timeoutMs: timeout.timeoutMs,
    requestHeader,
    url: requestUrl(req),
    responseHeader: { "content-type": protocol === "grpc" ? "application/grpc+proto" : binary ? "application/proto" : "application/json" },
    responseTrailer: protocol === "grpc" ? { "grpc-status": "0" } : {},
    values,
    closed: "stream" in req ? req : res,
    res,
  });
  if (protocol === "grpc" && compression.response) context.responseHeader.set("grpc-encoding", compression.response.name);
  let body: Uint8Array;
  let status = 200;
  try {
    if (timeout.error) throw timeout.error;
    const input = route.serialization.getI(binary).parse(bytes);
    const output = await invokeUnaryImplementation(route.spec, context, input, [...options.interceptors]);
    body = route.serialization.getO(binary).serialize(output);
    if (protocol === "grpc") body = await envelope(body, compression.response, options.compressMinBytes);
  } catch (error) {
    const failure = error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
    context.abort(failure);
    if (protocol === "grpc") {
      setTrailerStatus(context.responseTrailer, failure);
      body = new Uint8Array(0);
    } else {
      status = codeToHttpStatus(failure.code);
      context.responseHeader.set("content-type", "application/json");
      failure.metadata.forEach((value, key) => context.responseHeader.set(key, value));
      body = errorToJsonBytes(failure, {});
    }
  }
  // Ends the deadline timer and detaches the call's signal, as connect does once a call is answered;
  // with a reason made once, not a DOMException per call.
  context.abort(CALL_ANSWERED);
  if (protocol === "connect" && compression.response && body.byteLength >= options.compressMinBytes) {
    body = await compression.response.compress(body);
    context.responseHeader.set("content-encoding", compression.response.name);
  }
  write(protocol, status, body, context, res);
}

/** Writes as connect-node's adapter does: head, body, trailers, in that order and with the same names. */
function write(protocol: Protocol, status: number, body: Uint8Array, context: HandlerContext, res: Response): void {
  let header = context.responseHeader;
  if (protocol === "connect") {
    header = trailerMux(context.responseHeader, context.responseTrailer);
    header.set("content-length", body.byteLength.toString(10));
  }
  (res as http.ServerResponse).writeHead(status, nodeHeaders(header));
  if (protocol === "grpc") res.addTrailers(nodeHeaders(context.responseTrailer));
  if (body.byteLength > 0) (res as http.ServerResponse).end(body);
  else res.end();
}

async function envelope(message: Uint8Array, compression: Compression | null, compressMinBytes: number): Promise<Uint8Array> {
  let data = message;
  let flags = 0;
  if (compression && data.byteLength >= compressMinBytes) {
    data = await compression.compress(data);
    flags = 1;
  }
  const framed = new Uint8Array(GRPC_PREFIX_BYTES + data.byteLength);
  framed[0] = flags;
  new DataView(framed.buffer).setUint32(1, data.byteLength);
  framed.set(data, GRPC_PREFIX_BYTES);
  return framed;
}

interface ContextInit {
  readonly route: Route;
  readonly protocol: Protocol;
  readonly timeoutMs: number | undefined;
  readonly requestHeader: Headers;
  readonly url: string;
  readonly responseHeader: Record<string, string>;
  readonly responseTrailer: Record<string, string>;
  readonly values: ContextValues;
  /** What emits "close" when the caller goes away: the HTTP/2 request, or the HTTP/1.1 response. */
  readonly closed: NodeJS.EventEmitter;
  readonly res: Response;
}

/**
 * The handler context connect's createHandlerContext makes, on one
 * AbortController instead of three: aborted when the deadline passes (with
 * connect's DEADLINE_EXCEEDED), when the caller goes away, or by `abort`.
 */
function callContext(init: ContextInit): HandlerContext & { abort(reason: unknown): void } {
  const controller = new AbortController();
  const deadline = init.timeoutMs === undefined ? undefined : Date.now() + init.timeoutMs;
  const expire = (): void => controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
  let timer: NodeJS.Timeout | undefined;
  if (init.timeoutMs !== undefined) {
    if (init.timeoutMs <= 0) expire();
    else timer = setTimeout(expire, init.timeoutMs);
  }
  const onClose = (): void => {
    if (!init.res.writableFinished) controller.abort(new ConnectError("the caller went away", Code.Canceled));
  };
  init.closed.once("close", onClose);
  return {
    method: init.route.spec.method,
    service: init.route.spec.method.parent,
    requestMethod: "POST",
    protocolName: init.protocol,
    url: init.url,
    signal: controller.signal,
    timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
    requestHeader: init.requestHeader,
    responseHeader: new Headers(init.responseHeader),
    responseTrailer: new Headers(init.responseTrailer),
    values: init.values,
    abort(reason) {
      clearTimeout(timer);
      init.closed.off("close", onClose);
      controller.abort(reason);
    },
  };
}

/** The URL connect-node gives interceptors and the context. */
function requestUrl(req: Request): string {
  const encrypted = "encrypted" in req.socket && req.socket.encrypted === true;
  const authority = "authority" in req ? req.authority : req.headers.host;
  return new URL(req.url ?? "", `${encrypted ? "https" : "http"}://${authority ?? ""}`).toString();
}

function webHeaders(headers: http.IncomingHttpHeaders): Headers {
  const web = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (typeof value === "string") web.append(name, value);
    else for (const item of value) web.append(name, item);
  }
  return web;
}

function nodeHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  headers.forEach((value, key) => (out[key] = value));
  return out;
}

export type { Request as FastRequest, Response as FastResponse };
