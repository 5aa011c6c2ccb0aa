import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { DEFAULT_LIMITS, guardRequests, type ConnectionLimits } from "./limits.js";
import type { RequestHandler } from "./request-handler.js";

// Named here too, beside listen() that takes one.
export type { RequestHandler } from "./request-handler.js";

export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
  /**
   * CA for client certificates. When set, clients are asked for one; a
   * connection without one (or with an untrusted one) is still accepted, and
   * the caller check decides what it may do.
   */
  readonly clientCa?: Buffer;
}

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  readonly handler: RequestHandler;
  readonly tls?: TlsFiles;
  /** How long a new cleartext connection may stay silent before we give up deciding its protocol (at most the idle timeout). */
  readonly protocolSniffTimeoutMs?: number;
  /** Bounds on what clients may hold; DEFAULT_LIMITS when absent. */
  readonly limits?: ConnectionLimits;
}

export interface Listener {
  readonly host: string;
  readonly port: number;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to
   * `graceMs`, tells HTTP/2 clients to go away and closes idle keep-alive
   * sockets, then destroys whatever is left.
   */
  close(graceMs: number): Promise<void>;
}

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export type SniffVerdict = "http2" | "http1" | "undecided";

/**
 * Which protocol a cleartext connection speaks, from its first bytes. HTTP/2
 * with prior knowledge always opens with a fixed preface; anything else that
 * cannot be its beginning is HTTP/1.x.
 */
export function sniffProtocol(head: Buffer): SniffVerdict {
  const compared = Math.min(head.length, HTTP2_PREFACE.length);
  if (head.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared))) {
    return compared === HTTP2_PREFACE.length ? "http2" : "undecided";
  }
  return "http1";
}

/**
 * Serves gRPC (h2c with prior knowledge), gRPC-Web, Connect and plain HTTP on
 * one port. Node's cleartext HTTP/2 server cannot take HTTP/1.1, so each new
 * connection is sniffed and handed to the server that speaks its protocol.
 * With TLS, ALPN decides and Node's secure HTTP/2 server takes both.
 */
export async function listen(options: ListenOptions): Promise<Listener> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const handler = guardRequests(options.handler, limits);
  const h2Options = {
    maxHeaderListPairs: 256,
    // Node resets a stream whose headers pass the advertised SETTINGS_MAX_HEADER_LIST_SIZE with a bare
    // ENHANCE_YOUR_CALM, which clients report as an internal error. Advertise a looser transport ceiling
    // and let guardRequests refuse anything over our own limit with RESOURCE_EXHAUSTED (or 431) naming it.
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: transportHeaderCeiling(limits.maxHeaderBytes) },
  };
  const sockets = new Set<Socket>();
  const sessions = new Set<http2.Http2Session>();
  // HTTP/1.1 sockets handed over by hand are unknown to http.Server's own
  // idle tracking (it only tracks servers that listen), so count them here.
  const inFlight = new Map<Socket, number>();
  const trackSession = (session: http2.Http2Session): void => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    const dropLater = (): void => {
      setTimeout(() => session.destroy(), limits.requestTimeoutMs).unref();
    };
    // No frame either way for the idle time: say GOAWAY, then drop the socket if streams linger.
    session.setTimeout(limits.idleTimeoutMs, () => {
      session.close();
      dropLater();
    });
    // A client that said GOAWAY is going: Node then waits for every stream it thinks open, and a stream
    // the client gave up on can keep the socket in CLOSE-WAIT until the idle timeout. Streams still
    // running get the request timeout to finish.
    session.once("goaway", dropLater);
  };
  const trackSocket = (socket: Socket): void => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };

  let acceptor: net.Server;
  let h1: http.Server | undefined;
  if (options.tls) {
    const secure = http2.createSecureServer(
      {
        cert: options.tls.cert,
        key: options.tls.key,
        allowHTTP1: true,
        ALPNProtocols: ["h2", "http/1.1"],
        ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
        ...h2Options,
      },
      handler,
    );
    // HTTP/1.1 over TLS has no session: an idle socket times out by itself.
    secure.setTimeout(limits.idleTimeoutMs);
    secure.on("session", trackSession);
    secure.on("connection", trackSocket);
    acceptor = secure;
  } else {
    const h2 = http2.createServer(h2Options, handler);
    h2.on("session", trackSession);
    h1 = http.createServer(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        keepAliveTimeout: limits.idleTimeoutMs,
        headersTimeout: limits.requestTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        connectionsCheckingInterval: Math.min(1_000, limits.requestTimeoutMs),
      },
      handler,
    );
    // http.Server starts checking headersTimeout and requestTimeout when it
    // begins listening; this one never listens (sockets are handed to it), so
    // it is told that it does, or slow senders would never be cut off.
    h1.emit("listening");
    countRequestsInFlight(h1, inFlight);
    const servers = { h1, h2 };
    const timeoutMs = Math.min(options.protocolSniffTimeoutMs ?? 10_000, limits.idleTimeoutMs);
    acceptor = net.createServer((socket) => {
      trackSocket(socket);
      handOver(socket, servers, timeoutMs);
    });
  }

  acceptor.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    acceptor.once("error", reject);
    acceptor.listen(options.port, options.host, () => {
      acceptor.off("error", reject);
      resolve();
    });
  });
  const address = acceptor.address() as AddressInfo;

  return {
    host: address.address,
    port: address.port,
    close: (graceMs) => drain({ acceptor, h1, inFlight, sockets, sessions, graceMs }),
  };
}

const HTTP2_SOCKETS = new WeakSet<Socket>();

function isHttp2(socket: Socket): boolean {
  return HTTP2_SOCKETS.has(socket);
}

function handOver(socket: Socket, servers: { h1: http.Server; h2: http2.Http2Server }, timeoutMs: number): void {
  let head = Buffer.alloc(0);
  const giveUp = setTimeout(() => socket.destroy(), timeoutMs);
  const finish = (): void => {
    clearTimeout(giveUp);
    socket.off("readable", onReadable);
    socket.off("error", onError);
    socket.off("end", onEnd);
  };
  const onError = (): void => {
    finish();
    socket.destroy();
  };
  const onEnd = (): void => {
    finish();
    socket.destroy();
  };
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, chunk]);
    const verdict = sniffProtocol(head);
    if (verdict === "undecided") return;
    finish();
    // The bytes read belong to the protocol's first frame or request line:
    // give them back before the chosen server starts reading.
    socket.unshift(head);
    if (verdict === "http2") HTTP2_SOCKETS.add(socket);
    (verdict === "http2" ? servers.h2 : servers.h1).emit("connection", socket);
  };
  socket.on("readable", onReadable);
  socket.on("error", onError);
  socket.on("end", onEnd);
}

function countRequestsInFlight(server: http.Server, inFlight: Map<Socket, number>): void {
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    res.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      if (left > 0) inFlight.set(socket, left);
      else inFlight.delete(socket);
    });
  });
}

async function drain(state: {
  acceptor: net.Server;
  h1: http.Server | undefined;
  inFlight: Map<Socket, number>;
  sockets: Set<Socket>;
  sessions: Set<http2.Http2Session>;
  graceMs: number;
}): Promise<void> {
  const { acceptor, h1, inFlight, sockets, sessions, graceMs } = state;
  const stopped = new Promise<void>((resolve) => acceptor.close(() => resolve()));
  // A graceful close sends GOAWAY and lets open streams finish.
  for (const session of sessions) session.close();
  // HTTP/1.1 requests still running answer with "Connection: close".
  h1?.on("request", (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.shouldKeepAlive = false;
  });
  const deadline = Date.now() + graceMs;
  while (sockets.size > 0 && Date.now() < deadline) {
    // Cleartext sockets that carry no HTTP/2 session and no request in flight
    // are idle keep-alive or still-silent connections: nothing is lost by
    // closing them. TLS sockets are left to their sessions and the deadline.
    if (h1) for (const socket of sockets) if (!inFlight.has(socket) && !isHttp2(socket)) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const session of sessions) session.destroy();
  for (const socket of sockets) socket.destroy();
  // Stops the HTTP/1.1 server's timeout checks; it never listened, so close() only reports that.
  h1?.close(() => undefined);
  await stopped;
}

/**
 * Header bytes HTTP/2 lets through to guardRequests: HPACK cannot decode a single field over 64 KiB
 * (a connection error no server can turn into a stream error), so up to there every request gets an answer.
 */
export function transportHeaderCeiling(maxHeaderBytes: number): number {
  return Math.max(maxHeaderBytes, 96 * 1024);
}
