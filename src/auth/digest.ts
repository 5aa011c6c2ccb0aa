/**
 * Keyed digests of credentials, to key caches without keeping the credential.
 * The key is random per process and never leaves it, so a digest seen in a
 * heap dump cannot be checked against guessed passwords offline.
 */
export type Digest = (credential: string) => Promise<string>;

/**
 * The digest with WebCrypto, which every fetch runtime has (the edge entry);
 * the key is generated non-extractable, so not even this process can read it.
 */
export function createWebDigest(): Digest {
  const key = crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const encoder = new TextEncoder();
  return async (credential) => base64url(new Uint8Array(await crypto.subtle.sign("HMAC", await key, encoder.encode(credential))));
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}
