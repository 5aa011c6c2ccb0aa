import type http from "node:http";
import type http2 from "node:http2";

/*
 * Its own module so that the listener and what it wraps a handler in (limits,
 * the call help, the fast path) can all name a request without importing one
 * another: limits.ts took this type from listener.ts, which imports limits.ts.
 */

/** A request as Node's HTTP/1.1 or HTTP/2 compatibility server gives it. */
export type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** The response Node gives with it. */
export type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** A request handler that serves both HTTP/1.1 and HTTP/2 requests. */
export type RequestHandler = (req: NodeRequest, res: NodeResponse) => void;
