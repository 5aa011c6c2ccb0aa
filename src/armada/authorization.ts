/**
 * The types the credential providers share: what the service is configured
 * with, and the function each provider returns. Kept apart from
 * `credentials.ts`, which picks a provider, so the providers need not import
 * the module that imports them.
 */

/**
 * Where an OpenID Connect token endpoint is: given directly, or found by
 * discovery from the issuer (armadactl's `providerUrl`).
 */
export type OidcEndpoint = { readonly tokenUrl: string; readonly providerUrl?: undefined } | { readonly providerUrl: string; readonly tokenUrl?: undefined };

/** How the service authenticates to Armada, as armadactl does. */
export type ArmadaCredentials =
  | { readonly kind: "none" }
  | { readonly kind: "basic"; readonly username: string; readonly password: string }
  | { readonly kind: "bearer"; readonly token: string }
  /** A bearer token read from a file, re-read when the file changes (Kubernetes projected tokens rotate). */
  | { readonly kind: "token-file"; readonly path: string }
  /** OpenID Connect client credentials: the access token is cached and refreshed before it expires. */
  | (OidcEndpoint & {
      readonly kind: "oidc";
      readonly clientId: string;
      readonly clientSecret: string;
      readonly scopes: readonly string[];
    })
  /**
   * OpenID Connect resource owner password grant; refreshed before expiry with
   * the refresh token when one was issued, else by granting again. A client
   * secret, when given, authenticates a confidential client.
   */
  | (OidcEndpoint & {
      readonly kind: "oidc-password";
      readonly clientId: string;
      readonly clientSecret?: string;
      readonly username: string;
      readonly password: string;
      readonly scopes: readonly string[];
    })
  /**
   * armadactl's openIdKubernetesAuth: the pod's service-account token is the
   * `client_assertion` of a `grant_type=kubernetes` request (a custom grant,
   * IdentityServer style); the file is read again for every new access token.
   */
  | (OidcEndpoint & {
      readonly kind: "oidc-kubernetes";
      readonly clientId: string;
      readonly assertionFile: string;
      readonly scopes: readonly string[];
    })
  /** A command whose trimmed stdout is a bearer token (armadactl's execAuth). */
  | {
      readonly kind: "exec";
      readonly command: string;
      readonly args: readonly string[];
      /** Added to the service's own environment. */
      readonly env: Readonly<Record<string, string>>;
      readonly timeoutMs: number;
      /** How long a token that is not a JWT with `exp` is reused. */
      readonly cacheSeconds: number;
    }
  /** Armada's `KubernetesAuth` scheme from the pod's service-account token and cluster CA files. */
  | { readonly kind: "kubernetes"; readonly tokenFile: string; readonly caFile: string };

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
