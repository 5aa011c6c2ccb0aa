import { createServer, type IncomingMessage } from "node:http";

/** One request the endpoint received, as it understood it. */
export interface TokenRequest {
  readonly grantType: string;
  /** From HTTP Basic client authentication, or from the form when sent there. */
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope: string;
}

export interface TokenEndpoint {
  /** e.g. `http://127.0.0.1:40123/token` */
  readonly url: string;
  /** The access tokens it will issue, in order: `<prefix>-1`, `<prefix>-2`, … */
  tokenNumber(n: number): string;
  requests(): TokenRequest[];
  stop(): Promise<void>;
}

export interface TokenEndpointOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly expiresInSeconds: number;
  readonly tokenPrefix: string;
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
 * An OAuth 2 token endpoint for the client credentials grant (RFC 6749 §4.4),
 * for tests only: accepts client authentication by HTTP Basic or form fields,
 * answers `invalid_client` (401) for wrong ones and `unsupported_grant_type`
 * (400) for other grants, and issues numbered bearer tokens.
 */
export async function startTokenEndpoint(options: TokenEndpointOptions): Promise<TokenEndpoint> {
  const received: TokenRequest[] = [];
  let issued = 0;
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const form = new URLSearchParams(body);
      const basic = basicCredentials(request.headers.authorization);
      const seen: TokenRequest = {
        grantType: form.get("grant_type") ?? "",
        clientId: basic?.id ?? form.get("client_id") ?? "",
        clientSecret: basic?.secret ?? form.get("client_secret") ?? "",
        scope: form.get("scope") ?? "",
      };
      received.push(seen);
      const answer = (status: number, payload: object): void => {
        response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
        response.end(JSON.stringify(payload));
      };
      if (request.method !== "POST" || request.url !== "/token") return answer(404, { error: "not_found" });
      if (seen.grantType !== "client_credentials") return answer(400, { error: "unsupported_grant_type" });
      if (seen.clientId !== options.clientId || seen.clientSecret !== options.clientSecret) {
        return answer(401, { error: "invalid_client", error_description: `client ${seen.clientId} with secret ${seen.clientSecret} rejected` });
      }
      issued++;
      answer(200, { access_token: `${options.tokenPrefix}-${issued}`, token_type: "Bearer", expires_in: options.expiresInSeconds });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the token endpoint's listener reported no port");
  return {
    url: `http://127.0.0.1:${address.port}/token`,
    tokenNumber: (n) => `${options.tokenPrefix}-${n}`,
    requests: () => [...received],
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
