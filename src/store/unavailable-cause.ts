import type { Logger } from "../observability/logger.js";

interface NetError {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly address?: unknown;
  readonly port?: unknown;
  readonly hostname?: unknown;
  readonly name?: unknown;
}

/**
 * Why a store connection failed, in our words rather than a client library's
 * (no option names a user cannot set, no errno soup): what a caller, /readyz
 * and the log all show. `host` and `port` are the configured server's.
 */
export function unavailableCause(error: unknown, server: { host: string; port: number }): string {
  const e = (typeof error === "object" && error !== null ? error : {}) as NetError;
  const at = `${typeof e.address === "string" ? e.address : server.host}:${typeof e.port === "number" ? e.port : server.port}`;
  const message = typeof e.message === "string" ? e.message : String(error);
  switch (e.code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return `cannot resolve host "${typeof e.hostname === "string" ? e.hostname : server.host}"`;
    case "ECONNREFUSED":
      return `connection refused at ${at}`;
    case "ETIMEDOUT":
      return `no connection to ${server.host}:${server.port} within the connect timeout`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `no route to ${at}`;
    case "ECONNRESET":
    case "EPIPE":
      return `connection reset by ${at}`;
  }
  if (/^(NOAUTH|WRONGPASS)/.test(message)) return "authentication refused: check the user and password in the store URL";
  if (/^NOPERM/.test(message)) return "the store's user lacks a permission it needs (NOPERM)";
  if (/Command timed out/.test(message)) return "no reply within the command timeout";
  return message;
}

/** ioredis's error for a command given up after the reconnect attempts; its text names a client option. */
export function isGivenUp(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as NetError).name === "MaxRetriesPerRequestError";
}

export interface StoreHealth {
  /** The cause while the store is known to be down; undefined while it answers, or before the first attempt. */
  readonly cause: () => string | undefined;
  failed(cause: string): void;
  recovered(): void;
}

/** The store's state as its connection reports it, logged once per change rather than once per reconnect attempt. */
export function storeHealth(logger: Logger | undefined, name: string): StoreHealth {
  let current: string | undefined;
  return {
    cause: () => current,
    failed(cause) {
      if (cause === current) return;
      current = cause;
      logger?.warn({ cause }, `${name} unreachable`);
    },
    recovered() {
      if (current !== undefined) logger?.info(`${name} reachable again`);
      current = undefined;
    },
  };
}
