import { createServer } from "node:net";

/**
 * A loopback TCP port that was free a moment ago. Another process can take it
 * before the caller binds it, so callers that launch servers retry on a clash.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("a TCP listener on 127.0.0.1 reported no port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
