import { defaultNumber, defaultText } from "../config/settings.js";

/** How callers prove who they are (JOBSERVICE_AUTH). */
export type AuthMode = "none" | "armada" | "oidc" | "basic";

export const AUTH_MODES: readonly AuthMode[] = ["none", "armada", "oidc", "basic"];

export interface OidcOptions {
  /** Issuer URL; its discovery document names the JWKS. */
  readonly issuer: string;
  readonly audience: string;
  /** Accepted signature algorithms; asymmetric only, since keys come from a JWKS. */
  readonly algorithms: readonly string[];
  readonly leewaySeconds: number;
  /** Dotted path of the claim holding the caller's groups, e.g. `groups` or `realm_access.roles`. */
  readonly groupsClaim: string;
  /** Claim naming the caller in the permissions file. */
  readonly usernameClaim: string;
}

/** Everything the caller check needs, resolved and validated by the config loader. */
export interface AuthOptions {
  readonly mode: AuthMode;
  /** armada mode: how long Armada's "yes" for (credential, queue) is reused. */
  readonly cacheSeconds: number;
  readonly oidc?: OidcOptions;
  /** basic mode: htpasswd-style file of bcrypt hashes, with groups. */
  readonly usersFile?: string;
  /** oidc and basic modes, and client certificates: who may watch which queues. */
  readonly permissionsFile?: string;
  /** When set, GET /metrics needs `authorization: Bearer <token>`. */
  readonly metricsToken?: string;
  /** New job-set subscriptions one principal may cause per minute; 0 means no limit. */
  readonly maxNewSubscriptionsPerMinute: number;
  /** PEM CA bundle for client certificates (TLS only). */
  readonly clientCaFile?: string;
}

/** Timings of the caller check that tests shorten; the defaults suit production. */
export interface AuthTuning {
  /** How long a refusal is reused (basic passwords, Armada's verdicts). */
  readonly deniedTtlMs: number;
  /** Armada's permission check, and the OIDC issuer's discovery and keys: how long a fetch may take. */
  readonly armadaTimeoutMs: number;
  readonly armadaMaxConcurrent: number;
  readonly fileReloadMs: number;
  readonly jwksCooldownMs: number;
}

export const AUTH_TUNING: AuthTuning = {
  deniedTtlMs: 5_000,
  armadaTimeoutMs: 5_000,
  armadaMaxConcurrent: 16,
  fileReloadMs: 2_000,
  jwksCooldownMs: 30_000,
};

/** For library callers, from the settings table. */
export const AUTH_DEFAULTS: AuthOptions = {
  mode: defaultText("auth"),
  cacheSeconds: defaultNumber("auth-cache-seconds"),
  maxNewSubscriptionsPerMinute: defaultNumber("max-new-subscriptions-per-minute"),
};

/** Asymmetric JWS algorithms jose verifies with keys from a JWKS. */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
