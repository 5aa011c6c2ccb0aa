import { readFileSync } from "node:fs";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { connectToArmada, type ArmadaConnection, type ArmadaTarget } from "./connect.js";
import { createStreamSlots, type StreamSlot } from "./stream-slots.js";

export type { ArmadaConnection } from "./connect.js";
export type { StreamSlot } from "./stream-slots.js";

export interface ArmadaConnectionsOptions {
  /** `http://host:port` (h2c) or `https://host:port` (TLS). */
  readonly url: string;
  readonly caFile?: string;
  /** Connections for the long-lived event streams. */
  readonly maxConnections: number;
  /** Streams per connection, lowered further by the server's SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxStreamsPerConnection: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveTimeoutMs: number;
}

/**
 * Every connection the service opens to Armada for its own calls, with one
 * set of TLS, keep-alive and stream-limit rules. The long-lived event streams
 * and the short calls (the caller checks' watch calls, the Query API
 * read-through) take slots in separate lanes, so event streams filling their
 * connections never hold up a caller's check, as they never did.
 */
export interface ArmadaConnections {
  /** A slot for a long-lived stream: a new connection while the lane is not full, else the least loaded, else wait for a slot. */
  acquire(signal: AbortSignal): Promise<StreamSlot>;
  /** A slot for a short call, on the lane's own connection; waits only behind other short calls. */
  acquireShort(signal: AbortSignal): Promise<StreamSlot>;
  /** A connection outside both lanes, closed with them: the readiness probe's, so nothing ever delays it. */
  separate(): ArmadaConnection;
  /** Open long-lived streams per connection, for tests and diagnostics. */
  streamsPerConnection(): number[];
  /** Short calls in flight, for tests and diagnostics. */
  shortCallsInFlight(): number;
  /** Closes every connection and fails the streams still open. */
  close(): void;
}

/** One connection carries the short calls, as the caller checks' and the read-through's own connections did. */
const SHORT_CALL_CONNECTIONS = 1;

export function createArmadaConnections(options: ArmadaConnectionsOptions): ArmadaConnections {
  const url = new URL(options.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`Armada URL must start with http:// (h2c) or https:// (TLS), not ${url.protocol}//`);
  }
  const target: ArmadaTarget = {
    baseUrl: url.origin,
    keepalive: { pingIntervalMs: options.keepaliveIntervalMs, pingTimeoutMs: options.keepaliveTimeoutMs },
    nodeOptions: options.caFile ? { ca: readFileSync(options.caFile) } : {},
  };
  const connect = (onRemoteLimit: (limit: number) => void): ReturnType<typeof connectToArmada> => connectToArmada(target, onRemoteLimit);
  const streams = createStreamSlots(connect, options.maxConnections, options.maxStreamsPerConnection);
  const shortCalls = createStreamSlots(connect, SHORT_CALL_CONNECTIONS, options.maxStreamsPerConnection);
  const separate: Http2SessionManager[] = [];

  return {
    acquire: (signal) => streams.acquire(signal),
    acquireShort: (signal) => shortCalls.acquire(signal),
    separate() {
      const { connection, manager } = connectToArmada(target);
      separate.push(manager);
      return connection;
    },
    streamsPerConnection: () => streams.streamsPerConnection(),
    shortCallsInFlight: () => shortCalls.streamsPerConnection().reduce((sum, n) => sum + n, 0),
    close() {
      streams.close();
      shortCalls.close();
      for (const manager of separate) manager.abort();
    },
  };
}
