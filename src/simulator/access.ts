import { Code, ConnectError } from "@connectrpc/connect";

/** A credential the simulator accepts; `queues` limits what it may touch (all queues when absent). */
export type Credential =
  | { readonly kind: "basic"; readonly user: string; readonly password: string; readonly queues?: readonly string[] }
  | { readonly kind: "bearer"; readonly token: string; readonly queues?: readonly string[] };

export interface Caller {
  /** The basic user, the bearer token's principal name, or "anonymous" when auth is off. */
  readonly principal: string;
  readonly queues?: readonly string[];
}

export const ANONYMOUS: Caller = { principal: "anonymous" };

/**
 * Checks the `authorization` metadata as Armada does: `basic <base64(user:pass)>`
 * with the scheme matched case-insensitively, or `Bearer <token>`.
 */
export function authenticate(header: string | null, credentials: readonly Credential[] | undefined): Caller {
  if (!credentials) return ANONYMOUS;
  const match = /^(\S+)\s+(\S.*)$/.exec(header?.trim() ?? "");
  if (!match) throw new ConnectError("request unauthenticated: missing or malformed authorization metadata", Code.Unauthenticated);
  const scheme = (match[1] ?? "").toLowerCase();
  const value = (match[2] ?? "").trim();
  if (scheme === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? "" : decoded.slice(colon + 1);
    const found = credentials.find((c) => c.kind === "basic" && c.user === user && c.password === password);
    if (found) return { principal: user, queues: found.queues };
  } else if (scheme === "bearer") {
    const found = credentials.find((c) => c.kind === "bearer" && c.token === value);
    if (found) return { principal: bearerPrincipal(value), queues: found.queues };
  } else {
    throw new ConnectError(`request unauthenticated: unsupported authorization scheme ${JSON.stringify(match[1])}`, Code.Unauthenticated);
  }
  throw new ConnectError("request unauthenticated: invalid credentials", Code.Unauthenticated);
}

/** PERMISSION_DENIED unless the caller may act on `queue`. */
export function authorizeQueue(caller: Caller, queue: string, action: string): void {
  if (caller.queues && !caller.queues.includes(queue)) {
    throw new ConnectError(`user ${JSON.stringify(caller.principal)} lacks permission ${action} on queue ${JSON.stringify(queue)}`, Code.PermissionDenied);
  }
}

/** Tokens are secrets: the principal names a token by a short prefix only. */
function bearerPrincipal(token: string): string {
  return `bearer:${token.slice(0, 4)}…`;
}
