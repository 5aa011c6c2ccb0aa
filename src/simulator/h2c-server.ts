import http2 from "node:http2";
import type { AddressInfo } from "node:net";

export interface H2cServer {
  readonly port: number;
  /** Destroys every HTTP/2 session but `except`, like a network cut; returns how many. */
  disconnect(except?: http2.Http2Session): number;
  /** Stops listening, sends GOAWAY to every session, and destroys what is left after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** A cleartext HTTP/2 (prior knowledge) server that keeps its sessions, so faults can cut them. */
export async function listenH2c(
  handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  host: string,
  port: number,
): Promise<H2cServer> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer(handler);
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const disconnect = (except?: http2.Http2Session): number => {
    const victims = [...sessions].filter((session) => session !== except);
    for (const session of victims) session.destroy();
    return victims.length;
  };
  return {
    port: (server.address() as AddressInfo).port,
    disconnect,
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      const grace = setTimeout(() => disconnect(), graceMs);
      await closed;
      clearTimeout(grace);
    },
  };
}
