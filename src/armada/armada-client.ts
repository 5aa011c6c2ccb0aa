import { readFileSync } from "node:fs";
import type { ClientHttp2Stream, Http2Session, OutgoingHttpHeaders, ClientSessionRequestOptions, SecureClientSessionOptions } from "node:http2";
import { toBinary, create } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Event, JobSetRequestSchema } from "../gen/api/event_pb.js";
import { HealthCheckResponse_ServingStatus } from "../gen/api/health_pb.js";
import type { Authorization } from "./authorization.js";
import { decodeEvent, type ArmadaMessage, type UndecodableEvent } from "./decode-event.js";
import { readGrpcStream } from "./grpc-stream.js";

export interface JobSetStreamRequest {
  readonly queue: string;
  readonly jobSetId: string;
  /** Only messages strictly after this id; "" reads from the beginning. */
  readonly fromMessageId: string;
  /** false: the backlog, then the stream ends; true: the backlog, then live events, never ending by itself. */
  readonly watch: boolean;
}

/** Armada's event API as the subscriber uses it. */
export interface ArmadaClient {
  /** The job set's messages in order, in batches of those that arrived together. */
  jobSetEvents(request: JobSetStreamRequest, signal: AbortSignal): AsyncIterable<readonly ArmadaMessage[]>;
  /** `api.Event/Health` within the deadline; false on any failure, never hangs. */
  healthy(signal: AbortSignal): Promise<boolean>;
  /** Open streams per pooled connection, for tests and diagnostics. */
  streamsPerConnection(): number[];
  /** Closes every connection and fails the streams still open. */
  close(): void;
}

export interface ArmadaClientOptions {
  readonly url: string;
  readonly caFile?: string;
  readonly authorization: Authorization;
  readonly maxConnections: number;
  readonly maxStreamsPerConnection: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly healthTimeoutMs: number;
  /**
   * Told of each frame of a job set's stream that is not a valid message, as
   * the stream passes it: the stream goes on without it (moving the cursor
   * past it when its id could be read) instead of failing on it for ever.
   */
  readonly onUndecodable?: (request: JobSetStreamRequest, problem: UndecodableEvent) => void;
}

/**
 * Streams per connection until the server says otherwise: RFC 9113 §6.5.2
 * recommends servers allow at least 100, and Node reports 100 until the
 * server's SETTINGS arrive.
 */
const ASSUMED_STREAM_LIMIT = 100;

interface Connection {
  readonly manager: Http2SessionManager;
  /** For Armada's unary calls. */
  readonly client: Client<typeof Event>;
  /** A raw HTTP/2 request on this connection, for the event stream's lean reader. */
  readonly open: (path: string, headers: OutgoingHttpHeaders) => Promise<ClientHttp2Stream>;
  streams: number;
  /**
   * Our cap, lowered to the server's SETTINGS_MAX_CONCURRENT_STREAMS once
   * known. Node does not queue streams beyond the server's limit: the server
   * refuses them, so the pool must not exceed it.
   */
  limit: number;
}

export function createArmadaClient(options: ArmadaClientOptions): ArmadaClient {
  const url = new URL(options.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`Armada URL must start with http:// (h2c) or https:// (TLS), not ${url.protocol}//`);
  }
  const baseUrl = url.origin;
  const nodeOptions: SecureClientSessionOptions = options.caFile ? { ca: readFileSync(options.caFile) } : {};
  const authorize: Interceptor = (next) => async (request) => {
    const value = await options.authorization();
    if (value !== undefined) request.header.set("authorization", value);
    return next(request);
  };
  const keepalive = { pingIntervalMs: options.keepaliveIntervalMs, pingTimeoutMs: options.keepaliveTimeoutMs };

  function connect(onRemoteLimit?: (limit: number) => void): Omit<Connection, "streams" | "limit"> {
    const manager = new Http2SessionManager(baseUrl, keepalive, nodeOptions);
    const watched = new WeakSet<Http2Session>();
    const watchedLimits = new WeakSet<Http2Session>();
    async function request(method: string, path: string, headers: OutgoingHttpHeaders, requestOptions: Omit<ClientSessionRequestOptions, "signal">): Promise<ClientHttp2Stream> {
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
    const transport = createGrpcTransport({
      baseUrl,
      interceptors: [authorize],
      sessionManager: {
        authority: manager.authority,
        request,
        notifyResponseByteRead: (stream: ClientHttp2Stream) => manager.notifyResponseByteRead(stream),
      },
    });
    return { manager, client: createClient(Event, transport), open: (path, headers) => request("POST", path, headers, {}) };
  }

  const pool: Connection[] = [];
  const waiting = new Set<() => void>();
  let closed = false;
  // Health has its own connection so that a full pool never delays a readiness probe.
  const health = connect();

  /** Lets waiting streams look for a slot again: all of them when a limit grew, the longest waiting when one slot freed. */
  function wake(): void {
    for (const resume of waiting) resume();
  }
  function wakeOne(): void {
    waiting.values().next().value?.();
  }

  function leastLoaded(): Connection | undefined {
    let best: Connection | undefined;
    for (const c of pool) if (c.streams < c.limit && (!best || c.streams < best.streams)) best = c;
    return best;
  }

  /** A connection with a free stream slot: a new one while the pool is not full, else the least loaded, else wait for a slot. */
  async function acquire(signal: AbortSignal): Promise<Connection> {
    for (;;) {
      if (closed) throw new Error("the Armada client is closed");
      signal.throwIfAborted();
      // Fill the pool before stacking streams: spread evenly, the least loaded connection first.
      const free = pool.length < options.maxConnections ? undefined : leastLoaded();
      if (free) {
        free.streams++;
        return free;
      }
      if (pool.length < options.maxConnections) {
        const connection: Connection = {
          ...connect((remote) => {
            connection.limit = Math.max(1, Math.min(options.maxStreamsPerConnection, remote));
            wake();
          }),
          streams: 1,
          limit: Math.min(options.maxStreamsPerConnection, ASSUMED_STREAM_LIMIT),
        };
        pool.push(connection);
        return connection;
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
  }

  return {
    async *jobSetEvents(request, signal) {
      const connection = await acquire(signal);
      try {
        const stream = await connection.open(GET_JOB_SET_EVENTS, await requestHeaders(options.authorization));
        stream.end(framed(toBinary(JobSetRequestSchema, create(JobSetRequestSchema, {
          id: request.jobSetId, queue: request.queue, fromMessageId: request.fromMessageId, watch: request.watch, errorIfMissing: false,
        }))));
        const report = (problem: UndecodableEvent): void => options.onUndecodable?.(request, problem);
        yield* readGrpcStream(stream, (bytes) => decodeEvent(bytes, report), () => connection.manager.notifyResponseByteRead(stream), signal);
      } finally {
        connection.streams--;
        wakeOne();
      }
    },
    async healthy(signal) {
      try {
        const response = await health.client.health({}, { signal, timeoutMs: options.healthTimeoutMs });
        return response.status === HealthCheckResponse_ServingStatus.SERVING;
      } catch {
        return false;
      }
    },
    streamsPerConnection: () => pool.map((c) => c.streams),
    close() {
      closed = true;
      wake();
      for (const connection of [...pool, health]) connection.manager.abort();
    },
  };
}

const GET_JOB_SET_EVENTS = "/api.Event/GetJobSetEvents";

/** What connect's gRPC transport sends, less compression: Armada's events are small and the link is fast. */
async function requestHeaders(authorization: Authorization): Promise<OutgoingHttpHeaders> {
  const headers: OutgoingHttpHeaders = { "content-type": "application/grpc+proto", te: "trailers", "user-agent": USER_AGENT };
  const value = await authorization();
  if (value !== undefined) headers.authorization = value;
  return headers;
}

const USER_AGENT = "armada-jobservice";

function framed(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(5 + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, 5);
  return frame;
}
