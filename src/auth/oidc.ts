import { Code, ConnectError } from "@connectrpc/connect";
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import { redactUrl } from "../observability/redact-url.js";
import { parseAuthorization } from "./credential.js";
import { unauthenticated, type Identity } from "./identity.js";
import type { Authenticate } from "./basic-mode.js";
import type { OidcOptions } from "./options.js";

export interface OidcDeps {
  /** Least time between two JWKS fetches caused by unknown key ids. */
  readonly jwksCooldownMs: number;
  readonly fetchTimeoutMs: number;
  /** How long a failed discovery is remembered before the next call tries again. */
  readonly discoveryRetryMs: number;
  readonly now: () => number;
}

type Verifier = (token: string) => Promise<JWTPayload>;

/**
 * `JOBSERVICE_AUTH=oidc`: a JWT bearer token verified here, against the keys
 * the issuer publishes (found through its discovery document). jose checks
 * signature, issuer, audience, expiry and not-before (with the leeway), and
 * only the allow-listed asymmetric algorithms: `alg: none` and HMAC tokens
 * (e.g. signed with the public key as the secret) never verify. An unknown
 * `kid` refetches the JWKS, at most once per cooldown.
 */
export function oidcAuthenticate(options: OidcOptions, deps: OidcDeps): Authenticate {
  let verifier: Promise<Verifier> | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;

  async function discover(): Promise<Verifier> {
    const where = `${options.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await fetch(where, { signal: AbortSignal.timeout(deps.fetchTimeoutMs), headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      document = (await response.json()) as typeof document;
    } catch (error) {
      throw new ConnectError(`cannot read the OIDC discovery document at ${redactUrl(where)} (${reason(error)}); try again`, Code.Unavailable);
    }
    if (document.issuer !== options.issuer || typeof document.jwks_uri !== "string") {
      throw new ConnectError(`the OIDC discovery document at ${redactUrl(where)} does not name issuer ${options.issuer} and a jwks_uri`, Code.Unavailable);
    }
    const keys = createRemoteJWKSet(new URL(document.jwks_uri), {
      cooldownDuration: deps.jwksCooldownMs,
      timeoutDuration: deps.fetchTimeoutMs,
    });
    return async (token) =>
      (
        await jwtVerify(token, keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: [...options.algorithms],
          clockTolerance: options.leewaySeconds,
          currentDate: new Date(deps.now()),
        })
      ).payload;
  }

  function ready(): Promise<Verifier> {
    if (!verifier && deps.now() - failedAt >= deps.discoveryRetryMs) {
      verifier = discover().catch((error: unknown) => {
        verifier = undefined;
        failedAt = deps.now();
        throw error;
      });
    }
    return verifier ?? Promise.reject(new ConnectError("the OIDC issuer was unreachable moments ago; try again", Code.Unavailable));
  }

  return async (authorization) => {
    const credential = parseAuthorization(authorization);
    if (credential.kind === "missing") throw unauthenticated("authorization required: send `authorization: Bearer <token>` with a token from the OIDC issuer");
    if (credential.kind !== "bearer") throw unauthenticated("authorization must be `Bearer <token>` with a token from the OIDC issuer");
    const verify = await ready();
    let claims: JWTPayload;
    try {
      claims = await verify(credential.token);
    } catch (error) {
      throw refusal(error);
    }
    const principal = claimAt(claims, options.usernameClaim);
    if (typeof principal !== "string" || principal === "") throw unauthenticated(`the token has no "${options.usernameClaim}" claim to name the caller`);
    return { principal, groups: groupsOf(claimAt(claims, options.groupsClaim)) };
  };
}

/** What was wrong with a token, in words that repeat nothing of it. */
function refusal(error: unknown): ConnectError {
  if (error instanceof errors.JWTExpired) return unauthenticated("the token has expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    const claim = error.claim;
    if (claim === "iss") return unauthenticated("the token was not issued by the configured issuer");
    if (claim === "aud") return unauthenticated("the token is not meant for this audience");
    if (claim === "nbf") return unauthenticated("the token is not valid yet");
    return unauthenticated(`the token's "${claim}" claim is not acceptable`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return unauthenticated("the token's signature algorithm is not allowed");
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthenticated("the token is signed with a key the issuer does not publish");
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return unauthenticated("the token's signature does not verify");
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError)) {
    return new ConnectError(`cannot fetch the issuer's signing keys (${reason(error)}); try again`, Code.Unavailable);
  }
  return unauthenticated("the token is not a valid signed JWT");
}

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  if (cause) return cause;
  if (error instanceof errors.JOSEError) return error.code;
  return error instanceof Error ? error.message : String(error);
}

/** A claim by dotted path, e.g. `realm_access.roles`. */
function claimAt(claims: JWTPayload, path: string): unknown {
  let value: unknown = claims;
  for (const part of path.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function groupsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === "string" && g !== "");
  if (typeof value === "string") return value.split(/[\s,]+/).filter((g) => g !== "");
  return [];
}
