import { createHmac, randomBytes } from "node:crypto";

/**
 * Keyed digests of credentials, to key caches without keeping the credential.
 * The key is random per process and never leaves it, so a digest seen in a
 * heap dump cannot be checked against guessed passwords offline.
 */
export type Digest = (credential: string) => string;

export function createDigest(key: Buffer = randomBytes(32)): Digest {
  return (credential) => createHmac("sha256", key).update(credential).digest("base64url");
}
