/**
 * What a caller sent in `authorization`, as armadactl sends it: `basic
 * <base64(user:password)>` with the scheme matched case-insensitively, or
 * `Bearer <token>`. Parsing never fails: anything else is "malformed", and
 * the caller is told which forms are accepted, never what it sent.
 */
export type PresentedCredential =
  | { readonly kind: "missing" }
  | { readonly kind: "malformed" }
  | { readonly kind: "basic"; readonly user: string; readonly password: string; readonly raw: string }
  | { readonly kind: "bearer"; readonly token: string; readonly raw: string };

export function parseAuthorization(header: string | null | undefined): PresentedCredential {
  const value = header?.trim() ?? "";
  if (value === "") return { kind: "missing" };
  const match = /^(\S+)\s+(\S+)$/.exec(value);
  if (!match) return { kind: "malformed" };
  const scheme = (match[1] ?? "").toLowerCase();
  const rest = match[2] ?? "";
  if (scheme === "bearer") return { kind: "bearer", token: rest, raw: value };
  if (scheme !== "basic" || !/^[A-Za-z0-9+/]+={0,2}$/.test(rest)) return { kind: "malformed" };
  const decoded = decodeBase64(rest);
  if (decoded === undefined) return { kind: "malformed" };
  const colon = decoded.indexOf(":");
  if (colon <= 0) return { kind: "malformed" };
  return { kind: "basic", user: decoded.slice(0, colon), password: decoded.slice(colon + 1), raw: value };
}

// One decoder for every call: it keeps no state between decode() calls without `stream`.
const UTF8 = new TextDecoder();

/** Base64 to UTF-8 with what every fetch runtime has (atob, TextDecoder); undefined when it is not base64. */
function decodeBase64(text: string): string | undefined {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  // A plain loop: Uint8Array.from with a mapping function costs several times more on every call.
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return UTF8.decode(bytes);
}
