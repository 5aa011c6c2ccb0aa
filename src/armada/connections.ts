import { readFileSync } from "node:fs";
import type { ClientHttp2Stream, ClientSessionRequestOptions, Http2Session, OutgoingHttpHeaders, SecureClientSessionOptions } from "node:http2";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

export interface ArmadaConnectionsOptions {
  /** `http://host:port` (h2c) or `https://host:port` (TLS). */
  readonly url: string;
  readonly caFile?: string;
  readonly maxConnections: number;
  readonly maxStreamsPerConnection: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
}

/** One HTTP/2 connection to Armada (re-established by connect's session manager when it drops). */
export interface ArmadaConnection {
  /** A raw HTTP/2 POST on this connection, for the event stream's lean reader. */
  open(path: string, headers: OutgoingHttpHeaders): Promise<ClientHttp2Stream>;
  /** Tells the keep-alive logic that the stream is alive (connect's transport does this itself). */
  notifyResponseByteRead(stream: ClientHttp2Stream): void;
  /** connect's gRPC transport over this connection. */
  transport(interceptors: Interceptor[]): Transport;
}

/** A stream slot on a pooled connection; `release` gives it back (once). */
export interface StreamSlot {
  readonly connection: ArmadaConnection;
  release(): void;
}

/**
 * Every connection the service opens to Armada for its own calls: the event
 * streams, the caller checks' watch calls and the Query API read-through
 * share them, so the stream limits and keep-alive below hold for all of them.
 */
export interface ArmadaConnections {
  /** A connection with a free stream slot: a new one while the pool is not full, else the least loaded, else wait for a slot. */
  acquire(signal: AbortSignal): Promise<StreamSlot>;
  /** A connection outside the pool and its limits, closed with it: the readiness probe's, so a full pool never delays it. */
  separate(): ArmadaConnection;
  /** Open streams per pooled connection, for tests and diagnostics. */
  streamsPerConnection(): number[];
  /** Closes every connection and fails the streams still open. */
  close(): void;
}

/**
 * Streams per connection until the server says otherwise: RFC 9113 §6.5.2
 * recommends servers allow at least 100, and Node reports 100 until the
 * server's SETTINGS arrive.
 */
const ASSUMED_STREAM_LIMIT = 100;

interface Pooled {
  readonly connection: ArmadaConnection;
  readonly manager: Http2SessionManager;
  streams: number;
  /**
   * Our cap, lowered to the server's SETTINGS_MAX_CONCURRENT_STREAMS once
   * known. Node does not queue streams beyond the server's limit: the server
   * refuses them, so the pool must not exceed it.
   */
  limit: number;
}

export function createArmadaConnections(options: ArmadaConnectionsOptions): ArmadaConnections {
  const url = new URL(options.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`Armada URL must start with http:// (h2c) or https:// (TLS), not ${url.protocol}//`);
  }
  const baseUrl = url.origin;
  const nodeOptions: SecureClientSessionOptions = options.caFile ? { ca: readFileSync(options.caFile) } : {};
  const keepalive = { pingIntervalMs: options.keepaliveIntervalMs, pingTimeoutMs: options.keepaliveTimeoutMs };

  function connect(onRemoteLimit?: (limit: number) => void): { connection: ArmadaConnection; manager: Http2SessionManager } {
    const manager = new Http2SessionManager(baseUrl, keepalive, nodeOptions);
    const watched = new WeakSet<Http2Session>();
    const watchedLimits = new WeakSet<Http2Session>();
    async function request(
      method: string,
      path: string,
      headers: OutgoingHttpHeaders,
      requestOptions: Omit<ClientSessionRequestOptions, "signal">,
    ): Promise<ClientHttp2Stream> {
      const stream = await manager.request(method, path, headers, requestOptions);
      const session = stream.session;
      if (session && !watched.has(session)) {
        watched.add(session);
        // connect-node's session manager stops listening for a session's errors when it leaves the
        // ready state, yet a keep-alive PING it sent earlier can still time out and destroy the
        // session with "PING timed out" (seen on loaded machines): with no listener left, that is an
        // uncaught exception. The session's streams get the error themselves, and the manager has
        // already moved on, so there is nothing more to do with it here.
        session.on("error", () => undefined);
      }
      if (session && onRemoteLimit && !watchedLimits.has(session)) {
        // The server's SETTINGS may arrive after the first stream opens and may change
        // later; by the time a response arrives they have certainly been read.
        watchedLimits.add(session);
        const learn = (): void => {
          const limit = session.remoteSettings.maxConcurrentStreams;
          if (limit !== undefined) onRemoteLimit(limit);
        };
        learn();
        session.on("remoteSettings", learn);
        stream.once("response", learn);
      }
      return stream;
    }
    const sessionManager = {
      authority: manager.authority,
      request,
      notifyResponseByteRead: (stream: ClientHttp2Stream) => manager.notifyResponseByteRead(stream),
    };
    return {
      manager,
      connection: {
        open: (path, headers) => request("POST", path, headers, {}),
        notifyResponseByteRead: sessionManager.notifyResponseByteRead,
        transport: (interceptors) => createGrpcTransport({ baseUrl, interceptors, sessionManager }),
      },
    };
  }

  const pool: Pooled[] = [];
  const separate: Http2SessionManager[] = [];
  const waiting = new Set<() => void>();
  let closed = false;

  /** Lets waiting streams look for a slot again: all of them when a limit grew, the longest waiting when one slot freed. */
  function wake(): void {
    for (const resume of waiting) resume();
  }
  function wakeOne(): void {
    waiting.values().next().value?.();
  }

  function leastLoaded(): Pooled | undefined {
    let best: Pooled | undefined;
    for (const c of pool) if (c.streams < c.limit && (!best || c.streams < best.streams)) best = c;
    return best;
  }

  function slotOn(pooled: Pooled): StreamSlot {
    let held = true;
    return {
      connection: pooled.connection,
      release() {
        if (!held) return;
        held = false;
        pooled.streams--;
        wakeOne();
      },
    };
  }

  return {
    async acquire(signal) {
      for (;;) {
        if (closed) throw new Error("the connections to Armada are closed");
        signal.throwIfAborted();
        // Fill the pool before stacking streams: spread evenly, the least loaded connection first.
        const free = pool.length < options.maxConnections ? undefined : leastLoaded();
        if (free) {
          free.streams++;
          return slotOn(free);
        }
        if (pool.length < options.maxConnections) {
          const pooled: Pooled = {
            ...connect((remote) => {
              pooled.limit = Math.max(1, Math.min(options.maxStreamsPerConnection, remote));
              wake();
            }),
            streams: 1,
            limit: Math.min(options.maxStreamsPerConnection, ASSUMED_STREAM_LIMIT),
          };
          pool.push(pooled);
          return slotOn(pooled);
        }
        await new Promise<void>((resolve) => {
          const resume = (): void => {
            signal.removeEventListener("abort", resume);
            waiting.delete(resume);
            resolve();
          };
          waiting.add(resume);
          signal.addEventListener("abort", resume, { once: true });
        });
      }
    },
    separate() {
      const { connection, manager } = connect();
      separate.push(manager);
      return connection;
    },
    streamsPerConnection: () => pool.map((c) => c.streams),
    close() {
      closed = true;
      wake();
      for (const manager of [...pool.map((c) => c.manager), ...separate]) manager.abort();
    },
  };
}
