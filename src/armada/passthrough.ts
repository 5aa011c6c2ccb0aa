import { readFileSync } from "node:fs";
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import { submitSeen, type SubmitSeen } from "./submit-seen.js";

type Request = IncomingMessage | http2.Http2ServerRequest;
type Response = ServerResponse | http2.Http2ServerResponse;

export interface PassthroughOptions {
  /** Armada's URL: http:// (h2c) or https:// (TLS). */
  readonly url: string;
  readonly caFile?: string;
  /** Told of each SubmitJobs that Armada accepted, as it passes. */
  readonly onSubmitted?: (seen: SubmitSeen) => void;
}

export interface Passthrough {
  /** Proxies the request if it is for one of Armada's services (`/api.*`); false when it is not. */
  handle(req: Request, res: Response): boolean;
  close(): void;
}

// Connection-level headers are the hop's own; HTTP/2 forbids them anyway.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings"]);
const SUBMIT_PATH = "/api.Submit/SubmitJobs";

/**
 * Armada's API behind the service's port, byte for byte: each call is
 * replayed on an HTTP/2 connection to Armada with the caller's own headers
 * (credentials included, so Armada decides), and the answer comes back as
 * Armada sent it: status, headers, messages, trailers. The caller's
 * `grpc-timeout` travels with the call, a caller that goes away cancels it
 * upstream, and server streams flow as they come, with back-pressure.
 */
export function createPassthrough(options: PassthroughOptions): Passthrough {
  const url = new URL(options.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`Armada URL must start with http:// or https://, not ${url.protocol}//`);
  const ca = options.caFile ? readFileSync(options.caFile) : undefined;
  let session: ClientHttp2Session | undefined;

  const connection = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const opened = http2.connect(url.origin, ca ? { ca } : {});
    opened.on("error", () => undefined);
    opened.on("close", () => {
      if (session === opened) session = undefined;
    });
    opened.unref();
    session = opened;
    return opened;
  };

  return {
    handle(req, res) {
      const path = req.url ?? "";
      if (!path.startsWith("/api.")) return false;
      let upstream: ClientHttp2Stream;
      try {
        upstream = connection().request(forwardedHeaders(req, url.host, path), { endStream: false });
      } catch (error) {
        unreachable(req, res, error);
        return true;
      }
      const learn =
        options.onSubmitted && path === SUBMIT_PATH
          ? submitSeen(String(req.headers["content-type"] ?? ""), headerValue(req.headers["grpc-encoding"]))
          : undefined;
      relay(req, res, upstream, learn, options.onSubmitted);
      return true;
    },
    close() {
      session?.close();
    },
  };
}

function forwardedHeaders(req: Request, authority: string, path: string): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ":method": req.method ?? "POST", ":path": path, ":authority": authority };
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || HOP_BY_HOP.has(name) || value === undefined) continue;
    headers[name] = value;
  }
  return headers;
}

function relay(
  req: Request,
  res: Response,
  upstream: ClientHttp2Stream,
  learn: ReturnType<typeof submitSeen> | undefined,
  onSubmitted: PassthroughOptions["onSubmitted"],
): void {
  const h2 = "stream" in res && res.stream ? res.stream : undefined;
  // Node's compatibility response, typed for both protocols' writes.
  const out = res as ServerResponse;
  let finished = false;
  let trailersOnly = false;
  let trailers: OutgoingHttpHeaders = {};
  let responseEncoding: string | undefined;
  req.on("data", (chunk: Buffer) => learn?.request(chunk));
  req.pipe(upstream);
  // A caller that goes away (cancellation, its deadline) cancels the call at Armada.
  res.on("close", () => {
    if (!finished && !upstream.closed) upstream.close(http2.constants.NGHTTP2_CANCEL);
  });
  upstream.on("response", (headers: IncomingHttpHeaders) => {
    const status = Number(headers[":status"] ?? 502);
    responseEncoding = headerValue(headers["grpc-encoding"]);
    const outgoing = responseHeaders(headers);
    // A gRPC answer with its status in the headers is one HEADERS frame that ends the stream, as Armada sent it.
    if (h2 && headers["grpc-status"] !== undefined) {
      trailersOnly = true;
      trailers = outgoing;
      if (!h2.destroyed) h2.respond({ ":status": status, ...outgoing }, { endStream: true });
      return;
    }
    out.writeHead(status, outgoing as Record<string, string | string[]>);
  });
  upstream.on("trailers", (received: IncomingHttpHeaders) => {
    trailers = responseHeaders(received);
  });
  upstream.on("data", (chunk: Buffer) => {
    learn?.response(chunk);
    if (!out.write(chunk)) {
      upstream.pause();
      out.once("drain", () => upstream.resume());
    }
  });
  upstream.on("end", () => {
    finished = true;
    if (!trailersOnly) {
      if (h2 && Object.keys(trailers).length > 0) out.addTrailers(trailers as Record<string, string>);
      out.end();
    }
    const seen = learn?.accepted(trailers, responseEncoding);
    if (seen && onSubmitted) onSubmitted(seen);
  });
  upstream.on("error", (error) => {
    finished = true;
    if (res.headersSent || h2?.headersSent) {
      // Mid-answer: the caller sees the stream reset, as it would from Armada.
      res.destroy();
      return;
    }
    unreachable(req, res, error);
  });
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!name.startsWith(":") && !HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
  return out;
}

/** Armada could not be reached: UNAVAILABLE in the caller's protocol, naming the cause in our words. */
function unreachable(req: Request, res: Response, error: unknown): void {
  const contentType = String(req.headers["content-type"] ?? "");
  const message = `Armada is unreachable through the passthrough: ${error instanceof Error ? error.message : String(error)}`;
  if (res.headersSent) return;
  if (contentType.startsWith("application/grpc")) {
    const headers = { "content-type": contentType, "grpc-status": "14", "grpc-message": encodeURIComponent(message) };
    if ("stream" in res && res.stream) res.stream.respond({ ":status": 200, ...headers }, { endStream: true });
    else {
      res.writeHead(200, headers);
      res.end();
    }
    return;
  }
  res.writeHead(503, { "content-type": "application/json" });
  res.end(JSON.stringify({ code: "unavailable", message }));
}
