// A TCP forwarder on loopback standing for the address a Redis deployment
// keeps across a failover (a virtual IP, a DNS name, a Sentinel-aware proxy):
// the service connects here, and `moveTo` points it at another server,
// closing the connections to the old one as a dead master's would be.
import { createServer, connect, type Socket } from "node:net";

export interface Forwarder {
  readonly url: string;
  moveTo(port: number): void;
  close(): Promise<void>;
}

export async function startForwarder(targetPort: number): Promise<Forwarder> {
  let target = targetPort;
  const open = new Set<Socket>();
  const track = (socket: Socket): void => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server = createServer((client) => {
    const upstream = connect({ host: "127.0.0.1", port: target });
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the forwarder has no TCP address");
  return {
    url: `redis://127.0.0.1:${address.port}`,
    moveTo(port) {
      target = port;
      for (const socket of open) socket.destroy();
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
