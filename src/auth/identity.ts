import { Code, ConnectError } from "@connectrpc/connect";

/** Who a caller is, once proven: the name the permissions file (or Armada) knows, and its groups. */
export interface Identity {
  readonly principal: string;
  readonly groups: readonly string[];
}

/** What arrived with a call, before anything is believed. */
export interface Caller {
  /** The raw `authorization` header or metadata; null when absent. */
  readonly authorization: string | null;
  readonly transport: CallTransport;
}

/** What the connection itself says about the caller. */
export interface CallTransport {
  readonly remoteAddress: string;
  /** A TLS client certificate: its subject when it chains to the configured CA, else why not. */
  readonly certificate?: { readonly verified: true; readonly subject: string } | { readonly verified: false; readonly reason: string };
}

/** The queue (and job set) a call would read. */
export interface Target {
  readonly queue: string;
  readonly jobSetId: string;
}

/**
 * One mode's answer to "may this caller watch this queue?": the caller's
 * identity, or a ConnectError (UNAUTHENTICATED, PERMISSION_DENIED,
 * UNAVAILABLE) whose message says what is missing or refused and never
 * repeats the credential.
 */
export type QueueCheck = (caller: Caller, target: Target) => Promise<Identity>;

export function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

export function permissionDenied(message: string): ConnectError {
  return new ConnectError(message, Code.PermissionDenied);
}
