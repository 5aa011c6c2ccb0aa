import { connect } from "node:net";
import { unavailableCause } from "./unavailable-cause.js";

const PROBE_TIMEOUT_MS = 2_000;

/**
 * Why a plain TCP connection to `node` fails, in our words; undefined when
 * one opens. ioredis's cluster client reports every node it could not reach
 * as "Connection is closed.", whatever the socket said: this asks the socket.
 */
export function probeNode(node: { host: string; port: number }, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: node.host, port: node.port });
    const done = (cause: string | undefined): void => {
      socket.destroy();
      resolve(cause);
    };
    socket.setTimeout(timeoutMs, () => done(`no connection to ${node.host}:${node.port} within ${timeoutMs} ms`));
    socket.once("connect", () => done(undefined));
    socket.once("error", (error) => done(unavailableCause(error, node)));
  });
}

/** The first node's failure among `nodes`, probed together; undefined when every one accepts a connection. */
export async function probeNodes(nodes: readonly { host: string; port: number }[]): Promise<string | undefined> {
  const causes = await Promise.all(nodes.map((node) => probeNode(node)));
  return causes.find((cause) => cause !== undefined);
}
