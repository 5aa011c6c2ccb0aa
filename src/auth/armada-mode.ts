import { Code, ConnectError } from "@connectrpc/connect";
import { decodeJwt } from "jose";
import type { ArmadaVerdict, ArmadaWatchCheck } from "../armada/watch-check.js";
import { parseAuthorization } from "./credential.js";
import { createDecisionCache, type Settled } from "./decision-cache.js";
import type { Digest } from "./digest.js";
import { permissionDenied, unauthenticated, type Identity, type QueueCheck, type Target } from "./identity.js";

export interface ArmadaModeDeps {
  readonly check: ArmadaWatchCheck;
  readonly digest: Digest;
  /** The job set's cursor in the store, "" when unknown. */
  readonly cursorOf: (target: Target) => Promise<string>;
  readonly now: () => number;
  readonly allowedTtlMs: number;
  readonly deniedTtlMs: number;
  /** Counts each question actually put to Armada, by verdict. */
  readonly onAsked?: (verdict: ArmadaVerdict | "unavailable") => void;
}

export const MISSING_ARMADA_CREDENTIALS =
  "authorization required: send the credentials armadactl uses, as `authorization: basic <base64(user:password)>` or `authorization: Bearer <token>`";

/**
 * `JOBSERVICE_AUTH=armada`: Armada decides, asked with the caller's own
 * credentials. Its answer is reused per (keyed digest of the credential,
 * queue): allowed for the cache period, refusals for a few seconds, so a
 * poller costs Armada one check per period and a burst of bad credentials
 * one check per distinct credential. "Cannot tell" is never cached and never
 * lets a call through.
 */
export function armadaQueueCheck(deps: ArmadaModeDeps): QueueCheck {
  const cache = createDecisionCache<Identity>({
    now: deps.now,
    maxEntries: 100_000,
    ttlMs: (outcome: Settled<Identity>) => {
      if (outcome.ok) return deps.allowedTtlMs;
      const code = ConnectError.from(outcome.error).code;
      return code === Code.Unavailable ? 0 : Math.min(deps.deniedTtlMs, deps.allowedTtlMs);
    },
  });

  return async (caller, target) => {
    const credential = parseAuthorization(caller.authorization);
    if (credential.kind === "missing") throw unauthenticated(MISSING_ARMADA_CREDENTIALS);
    if (credential.kind === "malformed") {
      throw unauthenticated("authorization must be `basic <base64(user:password)>` or `Bearer <token>`, as armadactl sends it");
    }
    const key = `${await deps.digest(credential.raw)} ${target.queue}`;
    return cache.get(key, async () => {
      const fromMessageId = await deps.cursorOf(target).catch(() => "");
      let verdict: ArmadaVerdict;
      try {
        verdict = await deps.check.ask({ authorization: credential.raw, queue: target.queue, jobSetId: target.jobSetId, fromMessageId });
      } catch (error) {
        deps.onAsked?.("unavailable");
        throw error;
      }
      deps.onAsked?.(verdict);
      switch (verdict) {
        case "allowed":
          return { principal: credential.kind === "basic" ? credential.user : await bearerPrincipal(credential.token, deps.digest), groups: [] };
        case "unauthenticated":
          throw unauthenticated("Armada did not accept the caller's credentials");
        case "permission-denied":
          throw permissionDenied(`Armada does not let this caller watch queue ${JSON.stringify(target.queue)}`);
        case "no-such-queue":
          throw new ConnectError(`Armada has no queue ${JSON.stringify(target.queue)}`, Code.NotFound);
      }
    });
  };
}

/**
 * A name for a bearer caller Armada accepted, for per-principal limits: the
 * JWT's issuer and subject when it is one (Armada verified it), else a digest.
 */
async function bearerPrincipal(token: string, digest: Digest): Promise<string> {
  try {
    const claims = decodeJwt(token);
    if (typeof claims.sub === "string" && claims.sub !== "") return `${claims.iss ?? ""}#${claims.sub}`;
  } catch {
    // Not a JWT: an opaque token.
  }
  return `token:${(await digest(token)).slice(0, 12)}`;
}
