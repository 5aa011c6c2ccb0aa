import { stat, readFile } from "node:fs/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { redactUrl } from "../observability/logger.js";
import type { ArmadaCredentials } from "./options.js";

/**
 * The `authorization` metadata value for the next call to Armada, or
 * undefined when none is configured. Failures are ConnectErrors whose text
 * names what went wrong but never a secret.
 */
export type Authorization = () => Promise<string | undefined>;

export interface AuthorizationDeps {
  readonly now: () => number;
  /** Deadline of one request to the OIDC token endpoint. */
  readonly tokenRequestTimeoutMs?: number;
}

export function createAuthorization(credentials: ArmadaCredentials, deps: AuthorizationDeps): Authorization {
  switch (credentials.kind) {
    case "none":
      return () => Promise.resolve(undefined);
    case "basic": {
      const value = `basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
      return () => Promise.resolve(value);
    }
    case "bearer": {
      const value = `Bearer ${credentials.token}`;
      return () => Promise.resolve(value);
    }
    case "token-file":
      return tokenFileAuthorization(credentials.path);
    case "oidc":
      return oidcAuthorization(credentials, deps);
  }
}

/** Re-reads the file only when it changed: Kubernetes swaps projected tokens in place. */
function tokenFileAuthorization(path: string): Authorization {
  let cached: { version: string; value: string } | undefined;
  return async () => {
    try {
      const info = await stat(path);
      const version = `${info.ino}:${info.size}:${info.mtimeMs}`;
      if (cached?.version !== version) {
        const token = (await readFile(path, "utf8")).trim();
        if (token === "") throw new ConnectError(`Armada token file ${path} is empty`, Code.Unauthenticated);
        cached = { version, value: `Bearer ${token}` };
      }
      return cached.value;
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
      throw new ConnectError(`cannot read Armada token file ${path} (${code})`, Code.Unauthenticated);
    }
  };
}

interface CachedToken {
  readonly value: string;
  /** When to fetch a new one: ahead of the expiry, so a call never carries an expired token. */
  readonly refreshAt: number;
  readonly expiresAt: number;
}

/** Without expires_in the token is kept this long. */
const DEFAULT_TOKEN_LIFETIME_MS = 300_000;
const MAX_REFRESH_MARGIN_MS = 60_000;

/** OAuth 2 client credentials grant (RFC 6749 §4.4), client authenticated with HTTP Basic (§2.3.1). */
function oidcAuthorization(credentials: Extract<ArmadaCredentials, { kind: "oidc" }>, deps: AuthorizationDeps): Authorization {
  const endpoint = redactUrl(credentials.tokenUrl);
  const clientAuth = `Basic ${Buffer.from(`${encodeURIComponent(credentials.clientId)}:${encodeURIComponent(credentials.clientSecret)}`).toString("base64")}`;
  let cached: CachedToken | undefined;
  let inFlight: Promise<CachedToken> | undefined;

  async function fetchToken(): Promise<CachedToken> {
    const body = new URLSearchParams({ grant_type: "client_credentials" });
    if (credentials.scopes.length > 0) body.set("scope", credentials.scopes.join(" "));
    let response: Response;
    try {
      response = await fetch(credentials.tokenUrl, {
        method: "POST",
        headers: { authorization: clientAuth, "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body,
        signal: AbortSignal.timeout(deps.tokenRequestTimeoutMs ?? 10_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new ConnectError(`OIDC token endpoint ${endpoint} unreachable (${cause})`, Code.Unavailable);
    }
    const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      // Only the standard error code: descriptions may echo what was sent.
      const code = typeof payload.error === "string" ? ` (${payload.error})` : "";
      const rejected = response.status === 400 || response.status === 401 || response.status === 403;
      throw new ConnectError(
        `OIDC token endpoint ${endpoint} answered HTTP ${response.status}${code}`,
        rejected ? Code.Unauthenticated : Code.Unavailable,
      );
    }
    const token = payload.access_token;
    const type = payload.token_type;
    if (typeof token !== "string" || token === "" || (typeof type === "string" && type.toLowerCase() !== "bearer")) {
      throw new ConnectError(`OIDC token endpoint ${endpoint} returned no bearer access_token`, Code.Unauthenticated);
    }
    const lifetime = typeof payload.expires_in === "number" && payload.expires_in > 0 ? payload.expires_in * 1000 : DEFAULT_TOKEN_LIFETIME_MS;
    const now = deps.now();
    return {
      value: `Bearer ${token}`,
      expiresAt: now + lifetime,
      refreshAt: now + lifetime - Math.min(MAX_REFRESH_MARGIN_MS, lifetime / 4),
    };
  }

  return async () => {
    const now = deps.now();
    if (cached && now < cached.refreshAt) return cached.value;
    inFlight ??= fetchToken().finally(() => (inFlight = undefined));
    try {
      cached = await inFlight;
      return cached.value;
    } catch (err) {
      // A failed early refresh is no reason to drop a token that is still valid.
      if (cached && deps.now() < cached.expiresAt) return cached.value;
      throw err;
    }
  };
}
