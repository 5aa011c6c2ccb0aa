import { readFile } from "node:fs/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { redactUrl } from "../observability/redact-url.js";
import type { ArmadaCredentials, Authorization, AuthorizationDeps, OidcEndpoint } from "./authorization.js";
import { cachedAuthorization, type IssuedToken } from "./token-cache.js";

type ClientCredentials = Extract<ArmadaCredentials, { kind: "oidc" }>;
type PasswordCredentials = Extract<ArmadaCredentials, { kind: "oidc-password" }>;
type KubernetesGrantCredentials = Extract<ArmadaCredentials, { kind: "oidc-kubernetes" }>;

/** Without expires_in the token is kept this long. */
const DEFAULT_TOKEN_LIFETIME_MS = 300_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** An access token as the endpoint issued it, with the refresh token when there is one. */
interface Grant {
  readonly token: IssuedToken;
  readonly refreshToken?: string;
}

/** A token endpoint to post grants to: found once by discovery when only the issuer is known. */
interface TokenEndpoint {
  post(form: URLSearchParams, clientAuth: string | undefined): Promise<Grant>;
}

/** OAuth 2 client credentials grant (RFC 6749 §4.4), client authenticated with HTTP Basic (§2.3.1). */
export function clientCredentialsAuthorization(credentials: ClientCredentials, deps: AuthorizationDeps): Authorization {
  const endpoint = tokenEndpoint(credentials, deps.tokenRequestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const clientAuth = basicClientAuth(credentials.clientId, credentials.clientSecret);
  return cachedAuthorization(async () => {
    const form = new URLSearchParams({ grant_type: "client_credentials" });
    if (credentials.scopes.length > 0) form.set("scope", credentials.scopes.join(" "));
    return (await endpoint.post(form, clientAuth)).token;
  }, deps);
}

/**
 * OAuth 2 resource owner password grant (RFC 6749 §4.3), as armadactl's
 * openIdPasswordAuth. Renewed with the refresh token (§6) while the endpoint
 * accepts it; when it is refused, or none was issued, the password is granted again.
 */
export function passwordAuthorization(credentials: PasswordCredentials, deps: AuthorizationDeps): Authorization {
  const endpoint = tokenEndpoint(credentials, deps.tokenRequestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const confidential = credentials.clientSecret !== undefined && credentials.clientSecret !== "";
  const clientAuth = confidential ? basicClientAuth(credentials.clientId, credentials.clientSecret ?? "") : undefined;
  /** A public client names itself in the form (§2.3.1 is for confidential clients only). */
  const withClient = (form: URLSearchParams): URLSearchParams => {
    if (!confidential) form.set("client_id", credentials.clientId);
    if (credentials.scopes.length > 0) form.set("scope", credentials.scopes.join(" "));
    return form;
  };
  let refreshToken: string | undefined;

  const grant = async (): Promise<IssuedToken> => {
    if (refreshToken !== undefined) {
      try {
        const renewed = await endpoint.post(withClient(new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken })), clientAuth);
        // Servers that rotate refresh tokens send a new one; the others keep the old one valid (§6).
        refreshToken = renewed.refreshToken ?? refreshToken;
        return renewed.token;
      } catch (err) {
        // An expired or revoked refresh token: fall back to the password. Unreachable stays an error.
        if (!(err instanceof ConnectError) || err.code !== Code.Unauthenticated) throw err;
        refreshToken = undefined;
      }
    }
    const granted = await endpoint.post(
      withClient(new URLSearchParams({ grant_type: "password", username: credentials.username, password: credentials.password })),
      clientAuth,
    );
    refreshToken = granted.refreshToken;
    return granted.token;
  };
  return cachedAuthorization(grant, deps);
}

/** armadactl's openIdKubernetesAuth (pkg/client/auth/oidc/kubernetes.go): form fields only, no client authentication header. */
export function kubernetesGrantAuthorization(credentials: KubernetesGrantCredentials, deps: AuthorizationDeps): Authorization {
  const endpoint = tokenEndpoint(credentials, deps.tokenRequestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  return cachedAuthorization(async () => {
    let assertion: string;
    try {
      assertion = (await readFile(credentials.assertionFile, "utf8")).trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
      throw new ConnectError(`cannot read Kubernetes service-account token file ${credentials.assertionFile} (${code})`, Code.Unauthenticated);
    }
    if (assertion === "") throw new ConnectError(`Kubernetes service-account token file ${credentials.assertionFile} is empty`, Code.Unauthenticated);
    const form = new URLSearchParams({
      client_id: credentials.clientId,
      scope: credentials.scopes.join(" "),
      grant_type: "kubernetes",
      client_assertion: assertion,
    });
    return (await endpoint.post(form, undefined)).token;
  }, deps);
}

function basicClientAuth(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64")}`;
}

/** A URL as configured, unless it carries user info or a query, which may be secrets. */
function shown(raw: string): string {
  try {
    const url = new URL(raw);
    return url.username || url.password || url.search ? redactUrl(raw) : raw;
  } catch {
    return redactUrl(raw);
  }
}

function unreachable(what: string, err: unknown): ConnectError {
  const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
  return new ConnectError(`${what} unreachable (${cause})`, Code.Unavailable);
}

function tokenEndpoint(endpoint: OidcEndpoint, timeoutMs: number): TokenEndpoint {
  let tokenUrl: Promise<string> | undefined = endpoint.tokenUrl !== undefined ? Promise.resolve(endpoint.tokenUrl) : undefined;
  const resolve = (): Promise<string> => {
    // A failed discovery is retried on the next call, not remembered.
    tokenUrl ??= discoverTokenUrl(endpoint.providerUrl ?? "", timeoutMs).catch((err: unknown) => {
      tokenUrl = undefined;
      throw err;
    });
    return tokenUrl;
  };
  return {
    async post(form, clientAuth) {
      const url = await resolve();
      const shownUrl = shown(url);
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: { ...(clientAuth ? { authorization: clientAuth } : {}), "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
          body: form,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw unreachable(`OIDC token endpoint ${shownUrl}`, err);
      }
      const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      if (!response.ok) {
        // Only the standard error code: descriptions may echo what was sent.
        const code = typeof payload.error === "string" ? ` (${payload.error})` : "";
        const rejected = response.status === 400 || response.status === 401 || response.status === 403;
        throw new ConnectError(`OIDC token endpoint ${shownUrl} answered HTTP ${response.status}${code}`, rejected ? Code.Unauthenticated : Code.Unavailable);
      }
      const token = payload.access_token;
      const type = payload.token_type;
      if (typeof token !== "string" || token === "" || (typeof type === "string" && type.toLowerCase() !== "bearer")) {
        throw new ConnectError(`OIDC token endpoint ${shownUrl} returned no bearer access_token`, Code.Unauthenticated);
      }
      const lifetimeMs = typeof payload.expires_in === "number" && payload.expires_in > 0 ? payload.expires_in * 1000 : DEFAULT_TOKEN_LIFETIME_MS;
      const refreshToken = typeof payload.refresh_token === "string" && payload.refresh_token !== "" ? payload.refresh_token : undefined;
      return { token: { value: `Bearer ${token}`, lifetimeMs }, ...(refreshToken ? { refreshToken } : {}) };
    },
  };
}

/** OpenID Connect Discovery 1.0 §4, checking the issuer as go-oidc (armadactl) does. */
async function discoverTokenUrl(providerUrl: string, timeoutMs: number): Promise<string> {
  const documentUrl = `${providerUrl.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const shownUrl = shown(documentUrl);
  let response: Response;
  try {
    response = await fetch(documentUrl, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw unreachable(`OIDC discovery document ${shownUrl}`, err);
  }
  if (!response.ok) throw new ConnectError(`OIDC discovery document ${shownUrl} answered HTTP ${response.status}`, Code.Unavailable);
  const document = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (document?.issuer !== providerUrl) {
    const said = typeof document?.issuer === "string" ? JSON.stringify(shown(document.issuer)) : "none";
    throw new ConnectError(`OIDC discovery document ${shownUrl} names issuer ${said}, expected ${JSON.stringify(shown(providerUrl))}`, Code.Unavailable);
  }
  const tokenUrl = document.token_endpoint;
  if (typeof tokenUrl !== "string" || !/^https?:\/\//.test(tokenUrl)) {
    throw new ConnectError(`OIDC discovery document ${shownUrl} has no token_endpoint URL`, Code.Unavailable);
  }
  return tokenUrl;
}
