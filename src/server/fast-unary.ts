import type http from "node:http";
import type http2 from "node:http2";
import { create, type DescMessage, type DescMethodUnary, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext, type Interceptor, type MethodImplSpec, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { compressionNegotiate, createMethodSerializationLookup, validateReadWriteMaxBytes, type Compression } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { headerValue, LazyRequestHeaders } from "./lazy-request-headers.js";

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
  /** acceptCompression as connect's negotiation takes it, copied once. */
  readonly negotiable: Compression[];
  readonly writeMaxBytes: number;
  readonly compressMinBytes: number;
}

/**
 * Takes a request when it returns true; otherwise the request is untouched, or
 * its body was read and is replayed, so connect can serve it.
 */
export type FastUnary = (req: Request, res: Response, fallback: (req: Request, res: Response) => void) => boolean;

type Protocol = "grpc" | "connect";
type Message = MessageShape<DescMessage>;
type UnaryFn = (request: UnaryRequest) => Promise<UnaryResponse>;

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
 * stays the reference: parsing, serialisation, compression, timeouts and
 * error encoding come from connect's own protocol functions, so the answer is
 * the same bytes. What this leaves out is connect's per-call async-iterator
 * pipeline, which dominates its CPU profile, and the Headers, abort signal and
 * URL of a call whose interceptors and implementation never read them.
 */
export function createFastUnary(options: FastUnaryOptions): FastUnary {
  const settings: Settings = { ...options, negotiable: [...options.acceptCompression], ...validateReadWriteMaxBytes(options.readMaxBytes, undefined, undefined) };
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
  const binary = protocol === "grpc" || req.headers["content-type"] === "application/proto";
  const timeout = protocol === "grpc"
    ? parseGrpcTimeout(headerValue(req.headers, "grpc-timeout"), Number.MAX_SAFE_INTEGER)
    : parseConnectTimeout(headerValue(req.headers, "connect-timeout-ms"), Number.MAX_SAFE_INTEGER);
  const compression = protocol === "grpc"
    ? compressionNegotiate(options.negotiable, null, headerValue(req.headers, "grpc-accept-encoding"), "grpc-accept-encoding")
    : compressionNegotiate(options.negotiable, null, headerValue(req.headers, "accept-encoding"), "accept-encoding");
  const responseHeader = protocol === "grpc" ? grpcHead(compression.response) : binary ? CONNECT_PROTO_HEAD : CONNECT_JSON_HEAD;
  const call = new LazyCallState({
    req,
    res,
    timeoutMs: timeout.timeoutMs,
    closed: "stream" in req ? req : res,
    responseHeader,
    responseTrailer: protocol === "grpc" ? GRPC_OK : NO_TRAILERS,
  });
  let body: Uint8Array;
  let status = 200;
  try {
    if (timeout.error) throw timeout.error;
    const input = route.serialization.getI(binary).parse(bytes);
    const output = await invoke(route.spec, protocol, call, input, values, options.interceptors);
    body = route.serialization.getO(binary).serialize(output);
    if (protocol === "grpc") body = await envelope(body, compression.response, options.compressMinBytes);
  } catch (error) {
    const failure = error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
    call.abort(failure);
    if (protocol === "grpc") {
      setTrailerStatus(call.responseTrailer, failure);
      body = new Uint8Array(0);
    } else {
      status = codeToHttpStatus(failure.code);
      call.responseHeader.set("content-type", "application/json");
      failure.metadata.forEach((value, key) => call.responseHeader.set(key, value));
      body = errorToJsonBytes(failure, {});
    }
  }
  // Ends the deadline timer and detaches the call's signal, as connect does once a call is answered;
  // with a reason made once, not a DOMException per call.
  call.abort(CALL_ANSWERED);
  let contentEncoding: string | undefined;
  if (protocol === "connect" && compression.response && body.byteLength >= options.compressMinBytes) {
    body = await compression.response.compress(body);
    contentEncoding = compression.response.name;
  }
  write(protocol, status, body, call.headersToWrite(protocol, contentEncoding, body.byteLength), res);
}

/**
 * Runs the interceptors and the implementation as connect's
 * invokeUnaryImplementation does — the same request and response objects,
 * the same context for the implementation — except that the costly parts
 * (Headers, the abort signal, the URL) are made only when something reads them,
 * and the request's Headers are only filled when something does more than
 * `get` or `has` (see LazyRequestHeaders).
 */
async function invoke(spec: Route["spec"], protocol: Protocol, call: LazyCall, input: Message, values: ContextValues, interceptors: readonly Interceptor[]): Promise<Message> {
  const { method } = spec;
  let own: UnaryResponse | undefined;
  const implementation = async (request: UnaryRequest): Promise<UnaryResponse> => {
    const output = await spec.impl(request.message, implementationContext(protocol, call, request));
    own = callResponse(call, method, create(method.output, output));
    return own;
  };
  const next = applyInterceptors(implementation, interceptors);
  const response = await next(callRequest(call, method, input, values));
  // An interceptor that answered with headers of its own: connect copies them over the call's.
  if (response !== own) {
    copyHeaders(response.header, call.responseHeader);
    copyHeaders(response.trailer, call.responseTrailer);
  }
  return response.message;
}

/*
 * The request, response and handler context read their costly parts through
 * to the call, with accessors shared by every call rather than an object
 * literal's getters: those are new functions, in a dictionary-mode object,
 * each time the literal is evaluated, and V8's scavenger kept every call's
 * objects (request, response, HTTP/2 stream) alive from one young-generation
 * collection to the next until a full GC. At 2,000 calls a second that was
 * about 2.4 MB surviving each scavenge and 4-8 ms pauses, the read path's
 * p99. The accessors are own and enumerable, as the literal's were, so an
 * interceptor that spreads a request still gets every part.
 */
const CALL = Symbol("call");
const REQUEST = Symbol("request");

interface ReadsCall {
  readonly [CALL]: LazyCall;
}
interface ReadsRequest extends ReadsCall {
  readonly [REQUEST]: UnaryRequest;
}

function accessor<T>(get: (this: T) => unknown): PropertyDescriptor {
  return { get, enumerable: true, configurable: true };
}

// In the order the object literals had them, which is the order a spread copies them in.
const REQUEST_ACCESSORS: PropertyDescriptorMap = {
  url: accessor<ReadsCall>(function () {
    return this[CALL].url;
  }),
  signal: accessor<ReadsCall>(function () {
    return this[CALL].signal;
  }),
  header: accessor<ReadsCall>(function () {
    return this[CALL].requestHeader;
  }),
};
const RESPONSE_ACCESSORS: PropertyDescriptorMap = {
  header: accessor<ReadsCall>(function () {
    return this[CALL].responseHeader;
  }),
  trailer: accessor<ReadsCall>(function () {
    return this[CALL].responseTrailer;
  }),
};
const CONTEXT_ACCESSORS: PropertyDescriptorMap = {
  url: REQUEST_ACCESSORS.url!,
  signal: accessor<ReadsRequest>(function () {
    return this[REQUEST].signal;
  }),
  timeoutMs: accessor<ReadsCall>(function () {
    return this[CALL].timeoutMs;
  }),
  requestHeader: accessor<ReadsRequest>(function () {
    return this[REQUEST].header;
  }),
  responseHeader: RESPONSE_ACCESSORS.header!,
  responseTrailer: RESPONSE_ACCESSORS.trailer!,
};

// The links are symbol-keyed, so no key list or JSON sees them; a spread copies them along with the parts.
function callRequest(call: LazyCall, method: Route["spec"]["method"], input: Message, values: ContextValues): UnaryRequest {
  const request = Object.defineProperties({ stream: false, message: input, method, service: method.parent, requestMethod: "POST", [CALL]: call }, REQUEST_ACCESSORS);
  return Object.assign(request, { contextValues: values }) as unknown as UnaryRequest;
}

function callResponse(call: LazyCall, method: Route["spec"]["method"], message: Message): UnaryResponse {
  return Object.defineProperties({ stream: false, message, method, service: method.parent, [CALL]: call }, RESPONSE_ACCESSORS) as unknown as UnaryResponse;
}

/** What connect's mergeRequest gives the implementation, read through to the request the interceptors passed on. */
function implementationContext(protocol: Protocol, call: LazyCall, request: UnaryRequest): HandlerContext {
  const context = Object.defineProperties(
    { method: request.method, service: request.service, requestMethod: "POST", protocolName: protocol, [CALL]: call, [REQUEST]: request },
    CONTEXT_ACCESSORS,
  );
  return Object.assign(context, { values: request.contextValues }) as unknown as HandlerContext;
}

function applyInterceptors(implementation: UnaryFn, interceptors: readonly Interceptor[]): UnaryFn {
  let next = implementation;
  for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next as Parameters<Interceptor>[0]) as UnaryFn;
  return next;
}

function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  for (const key of [...to.keys()]) to.delete(key);
  from.forEach((value, key) => to.set(key, value));
}

/** Writes as connect-node's adapter does: head, body, trailers, in that order and with the same names. */
function write(protocol: Protocol, status: number, body: Uint8Array, headers: { head: NodeHeaders; trailers: NodeHeaders }, res: Response): void {
  (res as http.ServerResponse).writeHead(status, headers.head);
  if (protocol === "grpc") res.addTrailers(headers.trailers);
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

type NodeHeaders = Record<string, string>;

interface LazyCallInit {
  readonly req: Request;
  readonly res: Response;
  readonly timeoutMs: number | undefined;
  /** What emits "close" when the caller goes away: the HTTP/2 request, or the HTTP/1.1 response. */
  readonly closed: NodeJS.EventEmitter;
  /** The response's headers and trailers before anything sets one: the protocol's own. */
  readonly responseHeader: NodeHeaders;
  readonly responseTrailer: NodeHeaders;
}

/** One call's context, each costly part made on first use. */
interface LazyCall {
  readonly requestHeader: Headers;
  readonly responseHeader: Headers;
  readonly responseTrailer: Headers;
  readonly signal: AbortSignal;
  readonly url: string;
  timeoutMs(): number | undefined;
  /** Aborts the call's signal (now, or when it is made) and stops watching the deadline and the caller. */
  abort(reason: unknown): void;
  /**
   * The head and trailers to write: the protocol's constants when nothing
   * touched them; for Connect, trailers ride in the head as `trailer-` fields.
   */
  headersToWrite(protocol: Protocol, contentEncoding: string | undefined, contentLength: number): { head: NodeHeaders; trailers: NodeHeaders };
}

/**
 * Connect's createHandlerContext on one lazily made AbortController instead
 * of three: aborted when the deadline passes (with connect's
 * DEADLINE_EXCEEDED), when the caller goes away, or by `abort`. A class
 * rather than a closure per part: what a call allocates is what the young
 * generation has to collect, per request.
 */
class LazyCallState implements LazyCall {
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #url: string | undefined;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  readonly #init: LazyCallInit;
  readonly #deadline: number | undefined;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #onClose = (): void => {
    if (!this.#init.res.writableFinished) this.#abort(new ConnectError("the caller went away", Code.Canceled));
  };

  constructor(init: LazyCallInit) {
    this.#init = init;
    if (init.timeoutMs !== undefined) {
      this.#deadline = Date.now() + init.timeoutMs;
      const expire = (): void => this.#abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
      if (init.timeoutMs <= 0) expire();
      else this.#timer = setTimeout(expire, init.timeoutMs);
    }
    init.closed.once("close", this.#onClose);
  }

  get requestHeader(): Headers {
    return (this.#requestHeader ??= new LazyRequestHeaders(this.#init.req.headers));
  }

  get responseHeader(): Headers {
    return (this.#responseHeader ??= new Headers(this.#init.responseHeader));
  }

  get responseTrailer(): Headers {
    return (this.#responseTrailer ??= new Headers(this.#init.responseTrailer));
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get url(): string {
    return (this.#url ??= requestUrl(this.#init.req));
  }

  readonly timeoutMs = (): number | undefined => (this.#deadline === undefined ? undefined : this.#deadline - Date.now());

  abort(why: unknown): void {
    clearTimeout(this.#timer);
    this.#init.closed.off("close", this.#onClose);
    this.#abort(why);
  }

  headersToWrite(protocol: Protocol, contentEncoding: string | undefined, contentLength: number): { head: NodeHeaders; trailers: NodeHeaders } {
    const trailers = this.#responseTrailer ? nodeHeaders(this.#responseTrailer) : this.#init.responseTrailer;
    if (protocol === "grpc") return { head: this.#responseHeader ? nodeHeaders(this.#responseHeader) : this.#init.responseHeader, trailers };
    // Untouched, a Connect head is its content type and length, already in the order the general case sorts to.
    const protocolHead = this.#init.responseHeader;
    if (!this.#responseHeader && !this.#responseTrailer && contentEncoding === undefined && (protocolHead === CONNECT_JSON_HEAD || protocolHead === CONNECT_PROTO_HEAD)) {
      return { head: { "content-length": contentLength.toString(10), "content-type": protocolHead["content-type"]! }, trailers: NO_TRAILERS };
    }
    const head = this.#responseHeader ? nodeHeaders(this.#responseHeader) : { ...this.#init.responseHeader };
    if (contentEncoding !== undefined) head["content-encoding"] = contentEncoding;
    head["content-length"] = contentLength.toString(10);
    // connect's trailerMux: a Connect unary answer has no trailers, only `trailer-` fields in its head.
    for (const [key, value] of Object.entries(trailers)) head[`trailer-${key}`] = value;
    return { head: sortedHeaders(head), trailers: NO_TRAILERS };
  }

  #abort(why: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = why;
    this.#controller?.abort(why);
  }
}

/** The URL connect-node gives interceptors and the context. */
function requestUrl(req: Request): string {
  const encrypted = "encrypted" in req.socket && req.socket.encrypted === true;
  const authority = "authority" in req ? req.authority : req.headers.host;
  return new URL(req.url ?? "", `${encrypted ? "https" : "http"}://${authority ?? ""}`).toString();
}

function nodeHeaders(headers: Headers): NodeHeaders {
  const out: NodeHeaders = Object.create(null) as NodeHeaders;
  headers.forEach((value, key) => (out[key] = value));
  return out;
}

/** In the order a Headers object iterates, which is the order connect-node writes them in. */
function sortedHeaders(headers: NodeHeaders): NodeHeaders {
  const out: NodeHeaders = Object.create(null) as NodeHeaders;
  for (const key of Object.keys(headers).sort()) out[key] = headers[key]!;
  return out;
}

const GRPC_OK: NodeHeaders = { "grpc-status": "0" };
const CONNECT_JSON_HEAD: NodeHeaders = { "content-type": "application/json" };
const CONNECT_PROTO_HEAD: NodeHeaders = { "content-type": "application/proto" };
const GRPC_HEADS = new Map<string, NodeHeaders>();

/** The head of a gRPC answer nothing changed, in the order connect-node writes it; made once per encoding. */
function grpcHead(compression: Compression | null): NodeHeaders {
  const name = compression?.name ?? "identity";
  let head = GRPC_HEADS.get(name);
  if (!head) {
    head = compression ? { "content-type": "application/grpc+proto", "grpc-encoding": compression.name } : { "content-type": "application/grpc+proto" };
    GRPC_HEADS.set(name, head);
  }
  return head;
}
const NO_TRAILERS: NodeHeaders = {};

export type { Request as FastRequest, Response as FastResponse };
