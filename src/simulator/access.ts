import { Code, ConnectError } from "@connectrpc/connect";

/** A credential the simulator accepts; `queues` limits what it may touch (all queues when absent). */
export type Credential =
  | { readonly kind: "basic"; readonly user: string; readonly password: string; readonly queues?: readonly string[] }
  | { readonly kind: "bearer"; readonly token: string; readonly queues?: readonly string[] }
  /**
   * Armada's Kubernetes native auth. The simulator plays the TokenReview: the
   * service-account token must be this one (and the CA this one, when given).
   */
  | { readonly kind: "kubernetes"; readonly token: string; readonly ca?: string; readonly queues?: readonly string[] };

export interface Caller {
  /** The basic user, the bearer token's principal name, or "anonymous" when auth is off. */
  readonly principal: string;
  readonly queues?: readonly string[];
}

export const ANONYMOUS: Caller = { principal: "anonymous" };

/**
 * Checks the `authorization` metadata as Armada does: `basic <base64(user:pass)>`
 * with the scheme matched case-insensitively, `Bearer <token>`, or
 * `KubernetesAuth <base64url(JSON {"token", "ca"})>` (scheme exactly so, as Armada reads it).
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
  } else if (match[1] === "KubernetesAuth") {
    const review = kubernetesReview(value);
    const found = credentials.find((c) => c.kind === "kubernetes" && c.token === review.token && (c.ca === undefined || c.ca === review.ca));
    if (found) return { principal: review.principal, queues: found.queues };
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

/**
 * Armada's checks before its TokenReview: the payload must decode, the token
 * must be a JWT whose `exp` has not passed. The principal is the token's
 * subject, as TokenReview names a service account (`system:serviceaccount:ns:name`).
 */
function kubernetesReview(payload: string): { token: string; ca: string; principal: string } {
  const invalid = (why: string): ConnectError => new ConnectError(`request unauthenticated: invalid KubernetesAuth credentials: ${why}`, Code.Unauthenticated);
  let body: { token?: unknown; ca?: unknown };
  try {
    body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { token?: unknown; ca?: unknown };
  } catch {
    throw invalid("the payload is not base64url-encoded JSON");
  }
  if (typeof body.token !== "string" || typeof body.ca !== "string") throw invalid('expected JSON fields "token" and "ca"');
  const parts = body.token.split(".");
  let claims: { exp?: unknown; sub?: unknown } = {};
  try {
    claims = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8")) as { exp?: unknown; sub?: unknown };
  } catch {
    // Reported below with the other shape problems.
  }
  if (parts.length !== 3 || typeof claims.exp !== "number") throw invalid("the token is not a JWT with an expiry");
  if (claims.exp * 1000 < Date.now()) throw invalid("the token has expired");
  const principal = typeof claims.sub === "string" ? claims.sub : "kubernetes";
  return { token: body.token, ca: Buffer.from(body.ca, "base64url").toString("utf8"), principal };
}

/** Tokens are secrets: the principal names a token by a short prefix only. */
function bearerPrincipal(token: string): string {
  return `bearer:${token.slice(0, 4)}…`;
}
