import { createHmac, randomBytes } from "node:crypto";
import type { Digest } from "./digest.js";

/** The service's digest: Node's synchronous HMAC, cheaper per call than WebCrypto's on the hot path. */
export function createDigest(key: Buffer = randomBytes(32)): Digest {
  return (credential) => Promise.resolve(createHmac("sha256", key).update(credential).digest("base64url"));
}
