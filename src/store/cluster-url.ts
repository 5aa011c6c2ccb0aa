/** Where a Redis Cluster store is and how to reach it, from `redis-cluster://` or `rediss-cluster://`. */
export interface ClusterAddress {
  /** Startup nodes: the client learns the rest of the cluster from any one of them. */
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
}

const SCHEMES: Readonly<Record<string, boolean>> = { "redis-cluster:": false, "rediss-cluster:": true };
const DEFAULT_PORT = 6379;

/** True when the URL names a Redis Cluster store, whether or not it is well formed. */
export function isClusterUrl(raw: string): boolean {
  return /^rediss?-cluster:/i.test(raw);
}

/**
 * Parses `redis-cluster://[user[:password]@]host[:port][,host[:port]…][/]`.
 * WHATWG URLs take one host only, so the node list is parsed here. Errors
 * never repeat the URL: its user info may hold a password.
 */
export function parseClusterUrl(raw: string): ClusterAddress {
  const match = /^([a-z-]+:)\/\/(.*)$/is.exec(raw);
  const scheme = match?.[1]?.toLowerCase() ?? "";
  if (!match || !(scheme in SCHEMES)) throw new Error("expected a URL starting with redis-cluster:// or rediss-cluster://");
  let rest = match[2] ?? "";
  const at = rest.lastIndexOf("@");
  const userInfo = at >= 0 ? rest.slice(0, at) : undefined;
  rest = at >= 0 ? rest.slice(at + 1) : rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const path = rest.slice(slash);
    // A cluster has database 0 only; anything more is a mistake worth reporting.
    if (path !== "/" && path !== "/0") throw new Error("a Redis Cluster has database 0 only: expected no path after the node list");
    rest = rest.slice(0, slash);
  }
  if (rest.includes("?") || rest.includes("#")) throw new Error("expected no query or fragment in a redis-cluster:// URL");
  const nodes = rest.split(",").map((node, index) => parseNode(node.trim(), index));
  const credentials = userInfo === undefined ? {} : parseUserInfo(userInfo);
  return { nodes, tls: SCHEMES[scheme] === true, ...credentials };
}

function parseNode(node: string, index: number): { host: string; port: number } {
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d+))?$/i.exec(node);
  const plain = /^([^:[\]\s]+)(?::(\d+))?$/.exec(node);
  const found = bracketed ?? plain;
  if (!found?.[1]) throw new Error(`node ${index + 1} of the list: expected host or host:port, got ${node === "" ? "nothing" : "something else"}`);
  const port = found[2] === undefined ? DEFAULT_PORT : Number(found[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`node ${index + 1} of the list: expected a port from 1 to 65535`);
  return { host: found[1], port };
}

function parseUserInfo(userInfo: string): { username?: string; password?: string } {
  const colon = userInfo.indexOf(":");
  const decode = (part: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new Error("the user info of the URL is not validly percent-encoded");
    }
  };
  // `redis-cluster://:password@…` is Redis's usual form for requirepass without ACL users.
  const username = decode(colon >= 0 ? userInfo.slice(0, colon) : userInfo);
  const password = colon >= 0 ? decode(userInfo.slice(colon + 1)) : undefined;
  return { ...(username ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

/** The URL without user info, safe for logs and error messages. */
export function describeClusterAddress(address: ClusterAddress): string {
  const hosts = address.nodes.map((n) => `${n.host.includes(":") ? `[${n.host}]` : n.host}:${n.port}`).join(",");
  return `${address.tls ? "rediss" : "redis"}-cluster://${hosts}`;
}
