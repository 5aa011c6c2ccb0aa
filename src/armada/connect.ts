import type { ClientHttp2Stream, ClientSessionRequestOptions, Http2Session, OutgoingHttpHeaders, SecureClientSessionOptions } from "node:http2";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

/** One HTTP/2 connection to Armada (re-established by connect's session manager when it drops). */
export interface ArmadaConnection {
  /** A raw HTTP/2 POST on this connection, for the event stream's lean reader. */
  open(path: string, headers: OutgoingHttpHeaders): Promise<ClientHttp2Stream>;
  /** Tells the keep-alive logic that the stream is alive (connect's transport does this itself). */
  notifyResponseByteRead(stream: ClientHttp2Stream): void;
  /** connect's gRPC transport over this connection. */
  transport(interceptors: Interceptor[]): Transport;
}

/** Where and how every connection to Armada is opened. */
export interface ArmadaTarget {
  readonly baseUrl: string;
  readonly keepalive: { readonly pingIntervalMs: number; readonly pingTimeoutMs: number };
  readonly nodeOptions: SecureClientSessionOptions;
}

/** One connection to Armada, with the listeners every session needs; `onRemoteLimit` hears the server's stream limit. */
export function connectToArmada(target: ArmadaTarget, onRemoteLimit?: (limit: number) => void): { connection: ArmadaConnection; manager: Http2SessionManager } {
  const { baseUrl, keepalive, nodeOptions } = target;
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
