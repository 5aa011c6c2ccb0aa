/**
 * Every setting of `jobservice serve`: an environment variable and a flag
 * (the flag wins). This table is the single source for `--help`, for the
 * loader and for docs/configuration.md (`npm run docs:config` writes it; a
 * test fails when the committed page is stale).
 *
 * Over 300 lines on purpose: it is one table, one row a setting, and splitting it would
 * split the single source it exists to be.
 */
export interface Setting {
  readonly env: string;
  readonly flag: string;
  /** Shown as the default; "" when the setting is optional and unset by default. */
  readonly default: string;
  readonly description: string;
  /** Never printed back, not even in error messages. */
  readonly secret?: boolean;
}

export const SETTINGS = [
  {
    env: "JOBSERVICE_HOST",
    flag: "host",
    default: "127.0.0.1",
    description: "Address to listen on; `0.0.0.0` (or `::`) to be reachable from other machines, as the image and the Kubernetes manifests set it.",
  },
  { env: "JOBSERVICE_PORT", flag: "port", default: "60003", description: "TCP port for gRPC, gRPC-Web, Connect and HTTP (0 picks a free port)." },
  {
    env: "JOBSERVICE_TLS_CERT_FILE",
    flag: "tls-cert-file",
    default: "",
    description: "PEM certificate chain; with the key file, serves TLS (ALPN h2 and http/1.1) instead of cleartext.",
  },
  { env: "JOBSERVICE_TLS_KEY_FILE", flag: "tls-key-file", default: "", description: "PEM private key for the certificate." },
  {
    env: "JOBSERVICE_STORE",
    flag: "store",
    default: "memory",
    description:
      "`memory`, `redis://[user:password@]host:port[/db]`, `rediss://…`, a Redis Cluster `redis-cluster://[user:password@]host:port,host:port,…` (`rediss-cluster://` for TLS) or an Upstash REST URL `https://…`.",
  },
  { env: "UPSTASH_REDIS_REST_URL", flag: "upstash-url", default: "", description: "Upstash REST URL, used when JOBSERVICE_STORE is unset." },
  { env: "UPSTASH_REDIS_REST_TOKEN", flag: "upstash-token", default: "", description: "Upstash REST token (required with an https:// store).", secret: true },
  {
    env: "JOBSERVICE_STORE_WAIT_REPLICAS",
    flag: "store-wait-replicas",
    default: "0",
    description:
      "With a Redis or Redis Cluster store: a write counts only once this many replicas have it (Redis `WAIT`), so a failover takes fewer writes back; 0: off. Fewer lost writes, not consensus (docs/reliability.md).",
  },
  {
    env: "JOBSERVICE_STORE_WAIT_TIMEOUT_MS",
    flag: "store-wait-timeout-ms",
    default: "1000",
    description:
      "How long a write waits for those replicas; one they do not confirm in time counts as failed: it is retried, and its job set answers CONNECTION_ERR meanwhile.",
  },
  { env: "JOBSERVICE_JOB_TTL_SECONDS", flag: "job-ttl-seconds", default: "86400", description: "How long a job set's data is kept after its last activity." },
  { env: "JOBSERVICE_MAX_REQUEST_BYTES", flag: "max-request-bytes", default: "65536", description: "Larger requests are refused with RESOURCE_EXHAUSTED." },
  {
    env: "JOBSERVICE_FAST_PATH",
    flag: "fast-path",
    default: "true",
    description:
      "`true`: the plain forms of GetJobStatus and the health checks (gRPC, Connect JSON and binary) are answered straight on Node's request, with the same bytes connect would send; `false`: everything goes through connect.",
  },
  {
    env: "JOBSERVICE_MAX_CONNECTIONS",
    flag: "max-connections",
    default: "10000",
    description: "Open client connections at most; more are closed as soon as they are accepted.",
  },
  {
    env: "JOBSERVICE_MAX_HEADER_BYTES",
    flag: "max-header-bytes",
    default: "16384",
    description: "Larger request headers are refused: HTTP 431, or RESOURCE_EXHAUSTED for gRPC.",
  },
  {
    env: "JOBSERVICE_MAX_CONCURRENT_STREAMS",
    flag: "max-concurrent-streams",
    default: "100",
    description: "Concurrent HTTP/2 streams per connection; more are refused with REFUSED_STREAM.",
  },
  {
    env: "JOBSERVICE_IDLE_TIMEOUT_SECONDS",
    flag: "idle-timeout-seconds",
    default: "60",
    description: "A connection with nothing to do this long (silent, idle keep-alive, idle HTTP/2 session) is closed.",
  },
  {
    env: "JOBSERVICE_REQUEST_TIMEOUT_SECONDS",
    flag: "request-timeout-seconds",
    default: "30",
    description: "A request's headers and body must arrive within this long, or it is cut off (slow senders).",
  },
  {
    env: "JOBSERVICE_SHUTDOWN_GRACE_SECONDS",
    flag: "shutdown-grace-seconds",
    default: "10",
    description: "On SIGTERM/SIGINT, how long in-flight calls may take to finish.",
  },
  { env: "JOBSERVICE_LOG_LEVEL", flag: "log-level", default: "info", description: "fatal, error, warn, info, debug, trace or silent." },
  {
    env: "JOBSERVICE_LOG_FORMAT",
    flag: "log-format",
    default: "auto",
    description:
      "`json` (one JSON object a line, epoch-millisecond `time`), `pretty` (time, level, message and fields, readable) or `auto`: pretty when stdout is a terminal, JSON otherwise.",
  },
  {
    env: "ARMADA_URL",
    flag: "armada-url",
    default: "http://localhost:50051",
    description: "Armada's gRPC API: `http://…` for cleartext HTTP/2, `https://…` for TLS.",
  },
  {
    env: "JOBSERVICE_ARMADA_PASSTHROUGH",
    flag: "armada-passthrough",
    default: "false",
    description:
      "`true`: every Armada method the service does not answer itself (`/api.Submit/*`, `/api.QueueService/*`, `/api.Event/*`, …) is passed through to ARMADA_URL byte for byte, with the caller's own credentials, so one channel serves today's Armada clients (see docs/query-api.md). Off by default: it exposes Armada's whole API on this port.",
  },
  {
    env: "ARMADA_CA_FILE",
    flag: "armada-ca-file",
    default: "",
    description: "PEM CA bundle that signs Armada's certificate; Node's bundled roots (plus NODE_EXTRA_CA_CERTS) when unset.",
  },
  { env: "ARMADA_USERNAME", flag: "armada-username", default: "", description: "Basic auth user (with ARMADA_PASSWORD)." },
  { env: "ARMADA_PASSWORD", flag: "armada-password", default: "", description: "Basic auth password.", secret: true },
  { env: "ARMADA_TOKEN", flag: "armada-token", default: "", description: "Bearer token sent to Armada.", secret: true },
  {
    env: "ARMADA_TOKEN_FILE",
    flag: "armada-token-file",
    default: "",
    description: "File holding a bearer token; re-read when it changes (Kubernetes projected tokens).",
  },
  { env: "ARMADA_OIDC_TOKEN_URL", flag: "armada-oidc-token-url", default: "", description: "OpenID Connect token endpoint for the client-credentials flow." },
  { env: "ARMADA_OIDC_CLIENT_ID", flag: "armada-oidc-client-id", default: "", description: "OIDC client id." },
  { env: "ARMADA_OIDC_CLIENT_SECRET", flag: "armada-oidc-client-secret", default: "", description: "OIDC client secret.", secret: true },
  { env: "ARMADA_OIDC_SCOPES", flag: "armada-oidc-scopes", default: "", description: "OIDC scopes, separated by spaces or commas." },
  {
    env: "ARMADA_OIDC_PROVIDER_URL",
    flag: "armada-oidc-provider-url",
    default: "",
    description: "OpenID Connect issuer (armadactl's `providerUrl`): the token endpoint is found by discovery. Instead of ARMADA_OIDC_TOKEN_URL.",
  },
  {
    env: "ARMADA_OIDC_USERNAME",
    flag: "armada-oidc-username",
    default: "",
    description:
      "With ARMADA_OIDC_PASSWORD: the password grant instead of client credentials (client secret optional); renewed with the refresh token when one is issued, else granted again.",
  },
  { env: "ARMADA_OIDC_PASSWORD", flag: "armada-oidc-password", default: "", description: "Password for the OIDC password grant.", secret: true },
  {
    env: "ARMADA_OIDC_ASSERTION_FILE",
    flag: "armada-oidc-assertion-file",
    default: "",
    description:
      "Service-account token file sent as `client_assertion` with `grant_type=kubernetes` (armadactl's `openIdKubernetesAuth`) instead of a secret or password; read again for each new access token.",
  },
  {
    env: "ARMADA_EXEC_COMMAND",
    flag: "armada-exec-command",
    default: "",
    description: "Command whose trimmed stdout is the bearer token (armadactl's `execAuth`); run without a shell, stdin empty.",
  },
  {
    env: "ARMADA_EXEC_ARGS",
    flag: "armada-exec-args",
    default: "",
    description: 'Its arguments, as a JSON array of strings, e.g. `["token","--audience","armada"]`.',
  },
  {
    env: "ARMADA_EXEC_ENV",
    flag: "armada-exec-env",
    default: "",
    description: "Environment added to the service's own for it, as a JSON object of strings.",
    secret: true,
  },
  {
    env: "ARMADA_EXEC_TIMEOUT_MS",
    flag: "armada-exec-timeout-ms",
    default: "10000",
    description: "A run taking longer is killed, with everything it started, and fails.",
  },
  {
    env: "ARMADA_EXEC_CACHE_SECONDS",
    flag: "armada-exec-cache-seconds",
    default: "60",
    description: "How long a token that is not a JWT is reused; a JWT is reused until shortly before its own `exp`.",
  },
  {
    env: "ARMADA_KUBERNETES_AUTH",
    flag: "armada-kubernetes-auth",
    default: "false",
    description: "`true`: Armada's Kubernetes native auth (`KubernetesAuth` header) from the pod's service-account token and cluster CA.",
  },
  {
    env: "ARMADA_KUBERNETES_TOKEN_FILE",
    flag: "armada-kubernetes-token-file",
    default: "/var/run/secrets/kubernetes.io/serviceaccount/token",
    description: "Service-account token for Kubernetes native auth; re-read when it changes.",
  },
  {
    env: "ARMADA_KUBERNETES_CA_FILE",
    flag: "armada-kubernetes-ca-file",
    default: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
    description: "Cluster CA sent with the token; re-read when it changes.",
  },
  {
    env: "ARMADA_CONFIG",
    flag: "armada-config",
    default: "",
    description: "armadactl's config file (YAML): the context's `armadaUrl`, `forceNoTls` and auth block fill in the Armada settings not given explicitly.",
  },
  { env: "ARMADA_CONTEXT", flag: "armada-context", default: "", description: "Context of ARMADA_CONFIG to use; its `currentContext` when unset." },
  {
    env: "JOBSERVICE_CATCH_UP_WAIT_MS",
    flag: "catch-up-wait-ms",
    default: "5000",
    description: "How long the first call for a job set waits for its history to be read (also bounded by the call's deadline).",
  },
  {
    env: "JOBSERVICE_SUBSCRIPTION_EXPIRY_SECONDS",
    flag: "subscription-expiry-seconds",
    default: "300",
    description: "A job set nobody asked about for this long is no longer followed; its data stays until the TTL.",
  },
  {
    env: "JOBSERVICE_MAX_SUBSCRIPTIONS",
    flag: "max-subscriptions",
    default: "10000",
    description: "Most job sets one process follows; beyond it calls get RESOURCE_EXHAUSTED.",
  },
  {
    env: "JOBSERVICE_STREAM_IDLE_TIMEOUT_MS",
    flag: "stream-idle-timeout-ms",
    default: "120000",
    description: "A stream from Armada silent this long is reopened from its cursor (Armada sends no heartbeats).",
  },
  {
    env: "JOBSERVICE_LEASE_TTL_MS",
    flag: "lease-ttl-ms",
    default: "15000",
    description: "With a shared store, how long a replica's claim on a job set lasts unless renewed.",
  },
  {
    env: "JOBSERVICE_REPLICA_ID",
    flag: "replica-id",
    default: "",
    description: "This replica's name in leases; host name, process id and a random suffix when unset.",
  },
  {
    env: "JOBSERVICE_ARMADA_CONNECTIONS",
    flag: "armada-connections",
    default: "4",
    description: "Most HTTP/2 connections to Armada; streams are multiplexed over them, as many per connection as Armada allows.",
  },
  { env: "JOBSERVICE_BATCH_MAX_EVENTS", flag: "batch-max-events", default: "200", description: "Events applied to the store in one atomic write, at most." },
  { env: "JOBSERVICE_BATCH_MAX_DELAY_MS", flag: "batch-max-delay-ms", default: "5", description: "How long the first event of a batch may wait for others." },
  {
    env: "JOBSERVICE_STATUS_PAGE_INTERVAL_MS",
    flag: "status-page-interval-ms",
    default: "1000",
    description: "How often an open status page (`GET /`) receives a fresh snapshot over server-sent events.",
  },
  {
    env: "JOBSERVICE_AUTH",
    flag: "auth",
    default: "none",
    description:
      "How callers prove who they are: `none`, `armada` (Armada decides, asked with the caller's own credentials), `oidc` (JWT verified here) or `basic` (users file). See Security.",
  },
  {
    env: "JOBSERVICE_AUTH_CACHE_SECONDS",
    flag: "auth-cache-seconds",
    default: "60",
    description: "How long an allowed decision (armada) or a verified password (basic) is reused; refusals are kept 5 s. 0 asks every time.",
  },
  {
    env: "JOBSERVICE_OIDC_ISSUER",
    flag: "oidc-issuer",
    default: "",
    description: "oidc: the issuer URL; its `/.well-known/openid-configuration` names the signing keys (JWKS).",
  },
  { env: "JOBSERVICE_OIDC_AUDIENCE", flag: "oidc-audience", default: "", description: "oidc: the `aud` a token must carry." },
  {
    env: "JOBSERVICE_OIDC_ALGORITHMS",
    flag: "oidc-algorithms",
    default: "RS256,PS256,ES256,EdDSA",
    description: "oidc: accepted signature algorithms (asymmetric only), separated by commas.",
  },
  { env: "JOBSERVICE_OIDC_LEEWAY_SECONDS", flag: "oidc-leeway-seconds", default: "30", description: "oidc: clock skew allowed when checking `exp` and `nbf`." },
  {
    env: "JOBSERVICE_OIDC_USERNAME_CLAIM",
    flag: "oidc-username-claim",
    default: "sub",
    description: "oidc: the claim that names the caller in the permissions file.",
  },
  {
    env: "JOBSERVICE_OIDC_GROUPS_CLAIM",
    flag: "oidc-groups-claim",
    default: "groups",
    description: "oidc: the claim (dotted path, e.g. `realm_access.roles`) listing the caller's groups.",
  },
  {
    env: "JOBSERVICE_USERS_FILE",
    flag: "users-file",
    default: "",
    description: "basic: htpasswd file of bcrypt hashes (`htpasswd -B`), each line optionally ending `:group,group`; reloaded when it changes.",
  },
  {
    env: "JOBSERVICE_PERMISSIONS_FILE",
    flag: "permissions-file",
    default: "",
    description: "oidc, basic and client certificates: YAML or JSON granting users and groups watch on queues; reloaded when it changes.",
  },
  {
    env: "JOBSERVICE_METRICS_TOKEN",
    flag: "metrics-token",
    default: "",
    description: "When set, GET /metrics needs `authorization: Bearer <token>`.",
    secret: true,
  },
  {
    env: "JOBSERVICE_MAX_NEW_SUBSCRIPTIONS_PER_MINUTE",
    flag: "max-new-subscriptions-per-minute",
    default: "1000",
    description: "New job sets one caller may make the service follow per minute (RESOURCE_EXHAUSTED beyond it); 0 for no limit.",
  },
  {
    env: "JOBSERVICE_TLS_CLIENT_CA_FILE",
    flag: "tls-client-ca-file",
    default: "",
    description: "PEM CA for client certificates (with TLS): a trusted certificate's subject is the caller, and the permissions file decides.",
  },
  {
    env: "JOBSERVICE_MAX_BATCH_IDS",
    flag: "max-batch-ids",
    default: "1000",
    description: "Most job ids one GetJobStatuses call may ask about; more is INVALID_ARGUMENT.",
  },
  {
    env: "JOBSERVICE_MAX_WATCHES",
    flag: "max-watches",
    default: "20000",
    description: "Most WatchJobStatus and WatchJobSet streams one process serves at once; beyond it RESOURCE_EXHAUSTED.",
  },
  {
    env: "JOBSERVICE_WATCH_POLL_MS",
    flag: "watch-poll-ms",
    default: "1000",
    description: "How often a watched job set is read for changes written by another replica (this replica's own writes reach its watchers at once).",
  },
] as const satisfies readonly Setting[];

export type SettingFlag = (typeof SETTINGS)[number]["flag"];

/**
 * Settings only the edge entry (src/edge/worker.ts) reads; `jobservice serve`
 * neither accepts nor needs them, so they have no flag of its own.
 */
export const EDGE_SETTINGS = [
  {
    env: "JOBSERVICE_EDGE_STALE_AFTER_MS",
    flag: "edge-stale-after-ms",
    default: "300000",
    description:
      "Edge entry: a job set whose progress is older than this is taken to be followed by no full service, and its unfinished jobs answer `CONNECTION_ERR`.",
  },
] as const satisfies readonly Setting[];

export type EdgeSettingFlag = (typeof EDGE_SETTINGS)[number]["flag"];

type AnySetting = (typeof SETTINGS)[number] | (typeof EDGE_SETTINGS)[number];
type AnyFlag = AnySetting["flag"];

/** The table's default, as written ("" when unset by default), typed as its literal. */
export function defaultText<F extends AnyFlag>(flag: F): Extract<AnySetting, { flag: F }>["default"];
export function defaultText(flag: AnyFlag): string {
  return ([...SETTINGS, ...EDGE_SETTINGS] as readonly Setting[]).find((s) => s.flag === flag)?.default ?? "";
}

/** A numeric default; a table whose default is not a number is a programming error, found by the first test that loads it. */
export function defaultNumber(flag: AnyFlag): number {
  const text = defaultText(flag);
  const value = Number(text);
  if (text === "" || !Number.isFinite(value)) throw new Error(`settings table: the default of ${flag} is not a number`);
  return value;
}

export function defaultBoolean(flag: AnyFlag): boolean {
  return defaultText(flag) === "true";
}
