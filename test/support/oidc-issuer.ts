import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from "jose";

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly publicPem: string;
}

export interface TokenOptions {
  readonly audience?: string;
  readonly issuer?: string;
  /** Seconds from now; negative for a token that has already expired. */
  readonly expiresIn?: number;
  readonly notBefore?: number;
  /** Sign with a key the issuer never published. */
  readonly unpublishedKey?: boolean;
}

export interface OidcIssuer {
  /** e.g. `http://127.0.0.1:40123`, the `iss` of its tokens. */
  readonly issuer: string;
  /** A signed RS256 access token for `subject`. */
  token(subject: string, claims?: JWTPayload, options?: TokenOptions): Promise<string>;
  /** Publishes a new signing key and signs with it from now on; the old key is withdrawn. */
  rotate(): Promise<void>;
  /** The published key's public half as PEM: what an HS256 forgery would use as its secret. */
  publicKeyPem(): string;
  /** An unsigned token (`alg: none`) with these claims. */
  unsigned(claims: JWTPayload): string;
  /** HS256 with the published public key (PEM) as the HMAC secret: the classic algorithm-confusion forgery. */
  hmacWithPublicKey(claims: JWTPayload): string;
  jwksFetches(): number;
  stop(): Promise<void>;
}

async function newKey(n: number): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = `key-${n}`;
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" }, publicPem: await exportSPKI(publicKey) };
}

function b64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/**
 * A small OpenID Connect issuer on loopback, for tests: a discovery document,
 * a JWKS and a token endpoint (password grant, for users `name`/`name-pw`),
 * with RSA keys from jose that can be rotated.
 */
export async function startOidcIssuer(options: { audience: string }): Promise<OidcIssuer> {
  let keyNumber = 1;
  let current = await newKey(keyNumber);
  const unpublished = await newKey(0);
  let fetches = 0;
  let issuer = "";

  async function sign(subject: string, claims: JWTPayload, opts: TokenOptions): Promise<string> {
    const key = opts.unpublishedKey ? unpublished : current;
    const nowS = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "JWT" })
      .setSubject(subject)
      .setIssuer(opts.issuer ?? issuer)
      .setAudience(opts.audience ?? options.audience)
      .setIssuedAt(nowS)
      .setExpirationTime(nowS + (opts.expiresIn ?? 300));
    if (opts.notBefore !== undefined) jwt.setNotBefore(nowS + opts.notBefore);
    return jwt.sign(key.privateKey);
  }

  const server = createServer((request, response) => {
    void body(request).then(async (text) => {
      const answer = (status: number, payload: object): void => {
        response.writeHead(status, { "content-type": "application/json" });
        response.end(JSON.stringify(payload));
      };
      if (request.url === "/.well-known/openid-configuration") {
        return answer(200, { issuer, jwks_uri: `${issuer}/jwks`, token_endpoint: `${issuer}/token`, id_token_signing_alg_values_supported: ["RS256"] });
      }
      if (request.url === "/jwks") {
        fetches++;
        return answer(200, { keys: [current.publicJwk] });
      }
      if (request.url === "/token" && request.method === "POST") {
        const form = new URLSearchParams(text);
        const user = form.get("username") ?? "";
        if (form.get("grant_type") !== "password" || user === "" || form.get("password") !== `${user}-pw`) return answer(401, { error: "invalid_grant" });
        return answer(200, { access_token: await sign(user, { groups: [] }, {}), token_type: "Bearer", expires_in: 300 });
      }
      answer(404, { error: "not_found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the issuer's listener reported no port");
  issuer = `http://127.0.0.1:${address.port}`;

  return {
    issuer,
    token: (subject, claims = {}, opts = {}) => sign(subject, claims, opts),
    async rotate() {
      current = await newKey(++keyNumber);
    },
    publicKeyPem: () => current.publicPem,
    unsigned(claims) {
      return `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ iss: issuer, aud: options.audience, exp: Math.floor(Date.now() / 1000) + 300, ...claims })}.`;
    },
    hmacWithPublicKey(claims) {
      const head = `${b64url({ alg: "HS256", typ: "JWT", kid: current.kid })}.${b64url({ iss: issuer, aud: options.audience, exp: Math.floor(Date.now() / 1000) + 300, ...claims })}`;
      return `${head}.${createHmac("sha256", current.publicPem).update(head).digest("base64url")}`;
    },
    jwksFetches: () => fetches,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function body(request: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of request) text += String(chunk);
  return text;
}
