import { Code, ConnectError } from "@connectrpc/connect";
import { LazyRequestHeaders } from "../lazy-request-headers.js";
import type { NodeHeaders, Protocol, Request, Response } from "./types.js";
import { CONNECT_JSON_HEAD, CONNECT_PROTO_HEAD, NO_TRAILERS, nodeHeaders, sortedHeaders } from "./wire.js";

export interface LazyCallInit {
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
export interface LazyCall {
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
export class LazyCallState implements LazyCall {
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
    if (
      !this.#responseHeader &&
      !this.#responseTrailer &&
      contentEncoding === undefined &&
      (protocolHead === CONNECT_JSON_HEAD || protocolHead === CONNECT_PROTO_HEAD)
    ) {
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
