import http2 from "node:http2";
import { defaultNumber } from "../config/settings.js";
import type { NodeRequest as Request, NodeResponse as Response, RequestHandler } from "./request-handler.js";

/** What one process lets its clients hold; each is a documented setting. */
export interface ConnectionLimits {
  /** Open connections at most; more are closed as soon as they are accepted. */
  readonly maxConnections: number;
  /** Request headers larger than this (names, values and HTTP/2's 32 bytes per field) are refused. */
  readonly maxHeaderBytes: number;
  /** A connection with nothing to do for this long is closed: silent, idle keep-alive or an idle HTTP/2 session. */
  readonly idleTimeoutMs: number;
  /** A request's headers and body must have arrived this long after it began, or it is cut off. */
  readonly requestTimeoutMs: number;
  /** Concurrent HTTP/2 streams per connection; more are refused (REFUSED_STREAM), as HTTP/2 specifies. */
  readonly maxConcurrentStreams: number;
}

/** For library callers, from the settings table. */
export const DEFAULT_LIMITS: ConnectionLimits = {
  maxConnections: defaultNumber("max-connections"),
  maxHeaderBytes: defaultNumber("max-header-bytes"),
  idleTimeoutMs: defaultNumber("idle-timeout-seconds") * 1000,
  requestTimeoutMs: defaultNumber("request-timeout-seconds") * 1000,
  maxConcurrentStreams: defaultNumber("max-concurrent-streams"),
};

/** The size of a header list as HTTP/2 counts it (RFC 9113 §6.5.2): every name and value plus 32 bytes each. */
export function headerListBytes(rawHeaders: readonly string[]): number {
  let bytes = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    bytes += Buffer.byteLength(rawHeaders[i] ?? "") + Buffer.byteLength(rawHeaders[i + 1] ?? "") + 32;
  }
  return bytes;
}

/**
 * Enforces the limits Node leaves to the application: the header list size
 * of HTTP/2 requests (Node advertises SETTINGS_MAX_HEADER_LIST_SIZE but does
 * not refuse larger lists) and a deadline for an HTTP/2 request to arrive
 * whole, which a peer trickling its body would otherwise hold open for as
 * long as it keeps the connection busy. HTTP/1.1 has both from its parser
 * and server (maxHeaderSize, requestTimeout).
 */
export function guardRequests(handler: RequestHandler, limits: ConnectionLimits): RequestHandler {
  return (req, res) => {
    const bytes = headerListBytes(req.rawHeaders);
    if (bytes > limits.maxHeaderBytes) {
      refuseHeaders(req, res, `request headers of ${bytes} bytes exceed the limit of ${limits.maxHeaderBytes} bytes`);
      return;
    }
    if ("stream" in req && req.stream) {
      cutOffIfIncomplete(req.stream, limits.requestTimeoutMs);
      stopRequestAfterResponse(req.stream);
    }
    handler(req, res);
  };
}

/**
 * A response can be complete before its request is, when it refuses one too
 * large to read. The peer would go on sending into a stream nobody reads,
 * blocked on flow control, and the stream would stay open; RFC 9113 §8.1 has
 * the server ask it to stop with RST_STREAM(NO_ERROR). Node's compatibility
 * layer ends every response with trailers (empty or not), sent after
 * "wantTrailers": right after that the response is out.
 */
function stopRequestAfterResponse(stream: http2.ServerHttp2Stream): void {
  stream.once("wantTrailers", () => {
    setImmediate(() => {
      if (stream.destroyed) return;
      // Unread request data left in the stream stops the session from reading its socket at all, so
      // it would never see the peer close: drop what is left.
      stream.resume();
      if (stream.state.remoteClose !== 1) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
  });
}

function cutOffIfIncomplete(stream: http2.ServerHttp2Stream, timeoutMs: number): void {
  const timer = setTimeout(() => {
    // remoteClose: the peer has sent END_STREAM, so the whole request is in.
    if (!stream.destroyed && stream.state.remoteClose !== 1) stream.close(http2.constants.NGHTTP2_CANCEL);
  }, timeoutMs);
  timer.unref();
  stream.once("close", () => clearTimeout(timer));
}

/** In the caller's protocol: gRPC sees RESOURCE_EXHAUSTED in a trailers-only response, others HTTP 431. */
function refuseHeaders(req: Request, res: Response, message: string): void {
  const contentType = String(req.headers["content-type"] ?? "");
  if (contentType.startsWith("application/grpc")) {
    const headers = { "content-type": contentType, "grpc-status": "8", "grpc-message": encodeURIComponent(message) };
    if ("stream" in res && res.stream) res.stream.respond({ ":status": 200, ...headers }, { endStream: true });
    else {
      res.writeHead(200, headers);
      res.end();
    }
    return;
  }
  // Connect clients read the code from the JSON body of an error response.
  res.writeHead(431, { "content-type": "application/json" });
  res.end(JSON.stringify({ code: "resource_exhausted", message }));
}
