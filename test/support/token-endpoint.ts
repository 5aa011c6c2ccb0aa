import { createServer, type IncomingMessage } from "node:http";

/** One request the endpoint received, as it understood it. */
export interface TokenRequest {
  readonly grantType: string;
  /** From HTTP Basic client authentication, or from the form when sent there. */
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope: string;
  /** Password grant only. */
  readonly username?: string;
  readonly password?: string;
  /** Refresh grant only. */
  readonly refreshToken?: string;
  /** armadactl's `grant_type=kubernetes` only: the service-account token. */
  readonly clientAssertion?: string;
}

export interface TokenEndpoint {
  /** e.g. `http://127.0.0.1:40123/token` */
  readonly url: string;
  /** The issuer: its discovery document is at `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** The access tokens it will issue, in order: `<prefix>-1`, `<prefix>-2`, … */
  tokenNumber(n: number): string;
  requests(): TokenRequest[];
  /** How many times the discovery document was fetched. */
  discoveries(): number;
  /** Every refresh token issued so far is refused from now on (`invalid_grant`), as after a session ends. */
  revokeRefreshTokens(): void;
  stop(): Promise<void>;
}

export interface TokenEndpointOptions {
  readonly clientId: string;
  /** "" for a public client: it names itself in the form and has no secret; the client credentials grant is refused. */
  readonly clientSecret: string;
  readonly expiresInSeconds: number;
  readonly tokenPrefix: string;
  /** Accounts for the password grant (username → password); the grant is refused when absent. */
  readonly users?: Readonly<Record<string, string>>;
  /** The password grant also issues refresh tokens (`refresh-1`, …), and refreshing rotates them. */
  readonly refreshTokens?: boolean;
  /** Service-account tokens accepted as `client_assertion` with armadactl's `grant_type=kubernetes`. */
  readonly kubernetesAssertions?: () => readonly string[];
}

async function readBody(request: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of request) body += String(chunk);
  return body;
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^basic\s+(\S+)$/i.exec(header ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] ?? "", "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
}

/**
 * An OpenID provider's token endpoint and discovery document, for tests only:
 * the client credentials grant (RFC 6749 §4.4), the password grant (§4.3) and
 * refresh tokens (§6), and armadactl's `grant_type=kubernetes` (the service-account
 * token as `client_assertion`, as its openIdKubernetesAuth sends it). Client authentication by HTTP Basic or form fields;
 * `invalid_client` (401) for a wrong client, `invalid_grant` (400) for a wrong
 * password or refresh token, `unsupported_grant_type` (400) otherwise. Error
 * descriptions echo what was sent, as some real servers do, so tests can show
 * the service never repeats them.
 */
export async function startTokenEndpoint(options: TokenEndpointOptions): Promise<TokenEndpoint> {
  const received: TokenRequest[] = [];
  const liveRefreshTokens = new Set<string>();
  let issued = 0;
  let refreshIssued = 0;
  let discoveries = 0;
  let issuer = "";
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const answer = (status: number, payload: object): void => {
        response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
        response.end(JSON.stringify(payload));
      };
      if (request.method === "GET" && request.url === "/.well-known/openid-configuration") {
        discoveries++;
        return answer(200, { issuer, token_endpoint: `${issuer}/token`, grant_types_supported: ["client_credentials", "password", "refresh_token"] });
      }
      const form = new URLSearchParams(body);
      const basic = basicCredentials(request.headers.authorization);
      const seen: TokenRequest = {
        grantType: form.get("grant_type") ?? "",
        clientId: basic?.id ?? form.get("client_id") ?? "",
        clientSecret: basic?.secret ?? form.get("client_secret") ?? "",
        scope: form.get("scope") ?? "",
        ...(form.has("username") ? { username: form.get("username") ?? "" } : {}),
        ...(form.has("password") ? { password: form.get("password") ?? "" } : {}),
        ...(form.has("refresh_token") ? { refreshToken: form.get("refresh_token") ?? "" } : {}),
        ...(form.has("client_assertion") ? { clientAssertion: form.get("client_assertion") ?? "" } : {}),
      };
      received.push(seen);
      if (request.method !== "POST" || request.url !== "/token") return answer(404, { error: "not_found" });
      if (seen.clientId !== options.clientId || seen.clientSecret !== options.clientSecret) {
        return answer(401, { error: "invalid_client", error_description: `client ${seen.clientId} with secret ${seen.clientSecret} rejected` });
      }
      const access = (refreshToken?: string): void => {
        issued++;
        answer(200, {
          access_token: `${options.tokenPrefix}-${issued}`,
          token_type: "Bearer",
          expires_in: options.expiresInSeconds,
          ...(refreshToken ? { refresh_token: refreshToken } : {}),
        });
      };
      const newRefreshToken = (): string | undefined => {
        if (!options.refreshTokens) return undefined;
        refreshIssued++;
        const token = `refresh-${refreshIssued}`;
        liveRefreshTokens.add(token);
        return token;
      };
      switch (seen.grantType) {
        case "client_credentials":
          if (options.clientSecret === "") return answer(400, { error: "unauthorized_client" });
          return access();
        case "password": {
          const expected = seen.username === undefined ? undefined : options.users?.[seen.username];
          if (expected === undefined || expected !== seen.password) {
            return answer(400, { error: "invalid_grant", error_description: `user ${seen.username} with password ${seen.password} rejected` });
          }
          return access(newRefreshToken());
        }
        case "refresh_token": {
          if (seen.refreshToken === undefined || !liveRefreshTokens.delete(seen.refreshToken)) {
            return answer(400, { error: "invalid_grant", error_description: `refresh token ${seen.refreshToken} rejected` });
          }
          return access(newRefreshToken());
        }
        case "kubernetes":
          if (seen.clientAssertion === undefined || !(options.kubernetesAssertions?.() ?? []).includes(seen.clientAssertion)) {
            return answer(400, { error: "invalid_grant", error_description: `assertion ${seen.clientAssertion} rejected` });
          }
          return access();
        default:
          return answer(400, { error: "unsupported_grant_type" });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the token endpoint's listener reported no port");
  issuer = `http://127.0.0.1:${address.port}`;
  return {
    url: `${issuer}/token`,
    issuer,
    tokenNumber: (n) => `${options.tokenPrefix}-${n}`,
    requests: () => [...received],
    discoveries: () => discoveries,
    revokeRefreshTokens: () => liveRefreshTokens.clear(),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
