import { hash, randomBytes } from "node:crypto";
import type { Digest } from "./digest.js";

/**
 * The service's digest: SHA-256 of a random per-process secret followed by
 * the credential, in one call. It only keys caches, so it needs to be
 * collision-resistant and unguessable without the secret, not a MAC that
 * anyone verifies (length extension gives nothing here); Node's one-shot hash
 * costs a third of an HMAC object per call on the hot path.
 */
export function createDigest(secret: string = randomBytes(32).toString("base64url")): Digest {
  return (credential) => Promise.resolve(hash("sha256", `${secret}\n${credential}`, "base64url"));
}
