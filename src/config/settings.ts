/**
 * Every setting of `jobservice serve`: an environment variable and a flag
 * (the flag wins). This table is the single source for `--help`, for the
 * loader and for the README's configuration table (a test keeps them equal).
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
  { env: "JOBSERVICE_HOST", flag: "host", default: "0.0.0.0", description: "Address to listen on." },
  { env: "JOBSERVICE_PORT", flag: "port", default: "60003", description: "TCP port for gRPC, gRPC-Web, Connect and HTTP (0 picks a free port)." },
  { env: "JOBSERVICE_TLS_CERT_FILE", flag: "tls-cert-file", default: "", description: "PEM certificate chain; with the key file, serves TLS (ALPN h2 and http/1.1) instead of cleartext." },
  { env: "JOBSERVICE_TLS_KEY_FILE", flag: "tls-key-file", default: "", description: "PEM private key for the certificate." },
  { env: "JOBSERVICE_STORE", flag: "store", default: "memory", description: "`memory`, `redis://[user:password@]host:port[/db]`, `rediss://…`, a Redis Cluster `redis-cluster://[user:password@]host:port,host:port,…` (`rediss-cluster://` for TLS) or an Upstash REST URL `https://…`." },
  { env: "UPSTASH_REDIS_REST_URL", flag: "upstash-url", default: "", description: "Upstash REST URL, used when JOBSERVICE_STORE is unset." },
  { env: "UPSTASH_REDIS_REST_TOKEN", flag: "upstash-token", default: "", description: "Upstash REST token (required with an https:// store).", secret: true },
  { env: "JOBSERVICE_JOB_TTL_SECONDS", flag: "job-ttl-seconds", default: "86400", description: "How long a job set's data is kept after its last activity." },
  { env: "JOBSERVICE_MAX_REQUEST_BYTES", flag: "max-request-bytes", default: "65536", description: "Larger requests are refused with RESOURCE_EXHAUSTED." },
  { env: "JOBSERVICE_MAX_CONNECTIONS", flag: "max-connections", default: "10000", description: "Open client connections at most; more are closed as soon as they are accepted." },
  { env: "JOBSERVICE_MAX_HEADER_BYTES", flag: "max-header-bytes", default: "16384", description: "Larger request headers are refused: HTTP 431, or RESOURCE_EXHAUSTED for gRPC." },
  { env: "JOBSERVICE_MAX_CONCURRENT_STREAMS", flag: "max-concurrent-streams", default: "100", description: "Concurrent HTTP/2 streams per connection; more are refused with REFUSED_STREAM." },
  { env: "JOBSERVICE_IDLE_TIMEOUT_SECONDS", flag: "idle-timeout-seconds", default: "60", description: "A connection with nothing to do this long (silent, idle keep-alive, idle HTTP/2 session) is closed." },
  { env: "JOBSERVICE_REQUEST_TIMEOUT_SECONDS", flag: "request-timeout-seconds", default: "30", description: "A request's headers and body must arrive within this long, or it is cut off (slow senders)." },
  { env: "JOBSERVICE_SHUTDOWN_GRACE_SECONDS", flag: "shutdown-grace-seconds", default: "10", description: "On SIGTERM/SIGINT, how long in-flight calls may take to finish." },
  { env: "JOBSERVICE_LOG_LEVEL", flag: "log-level", default: "info", description: "fatal, error, warn, info, debug, trace or silent." },
  { env: "ARMADA_URL", flag: "armada-url", default: "http://localhost:50051", description: "Armada's gRPC API: `http://…` for cleartext HTTP/2, `https://…` for TLS." },
  { env: "ARMADA_CA_FILE", flag: "armada-ca-file", default: "", description: "PEM CA bundle that signs Armada's certificate; Node's bundled roots (plus NODE_EXTRA_CA_CERTS) when unset." },
  { env: "ARMADA_USERNAME", flag: "armada-username", default: "", description: "Basic auth user (with ARMADA_PASSWORD)." },
  { env: "ARMADA_PASSWORD", flag: "armada-password", default: "", description: "Basic auth password.", secret: true },
  { env: "ARMADA_TOKEN", flag: "armada-token", default: "", description: "Bearer token sent to Armada.", secret: true },
  { env: "ARMADA_TOKEN_FILE", flag: "armada-token-file", default: "", description: "File holding a bearer token; re-read when it changes (Kubernetes projected tokens)." },
  { env: "ARMADA_OIDC_TOKEN_URL", flag: "armada-oidc-token-url", default: "", description: "OpenID Connect token endpoint for the client-credentials flow." },
  { env: "ARMADA_OIDC_CLIENT_ID", flag: "armada-oidc-client-id", default: "", description: "OIDC client id." },
  { env: "ARMADA_OIDC_CLIENT_SECRET", flag: "armada-oidc-client-secret", default: "", description: "OIDC client secret.", secret: true },
  { env: "ARMADA_OIDC_SCOPES", flag: "armada-oidc-scopes", default: "", description: "OIDC scopes, separated by spaces or commas." },
  { env: "JOBSERVICE_CATCH_UP_WAIT_MS", flag: "catch-up-wait-ms", default: "5000", description: "How long the first call for a job set waits for its history to be read (also bounded by the call's deadline)." },
  { env: "JOBSERVICE_SUBSCRIPTION_EXPIRY_SECONDS", flag: "subscription-expiry-seconds", default: "300", description: "A job set nobody asked about for this long is no longer followed; its data stays until the TTL." },
  { env: "JOBSERVICE_MAX_SUBSCRIPTIONS", flag: "max-subscriptions", default: "10000", description: "Most job sets one process follows; beyond it calls get RESOURCE_EXHAUSTED." },
  { env: "JOBSERVICE_STREAM_IDLE_TIMEOUT_MS", flag: "stream-idle-timeout-ms", default: "120000", description: "A stream from Armada silent this long is reopened from its cursor (Armada sends no heartbeats)." },
  { env: "JOBSERVICE_LEASE_TTL_MS", flag: "lease-ttl-ms", default: "15000", description: "With a shared store, how long a replica's claim on a job set lasts unless renewed." },
  { env: "JOBSERVICE_REPLICA_ID", flag: "replica-id", default: "", description: "This replica's name in leases; host name, process id and a random suffix when unset." },
  { env: "JOBSERVICE_ARMADA_CONNECTIONS", flag: "armada-connections", default: "4", description: "Most HTTP/2 connections to Armada; streams are multiplexed over them, as many per connection as Armada allows." },
  { env: "JOBSERVICE_BATCH_MAX_EVENTS", flag: "batch-max-events", default: "200", description: "Events applied to the store in one atomic write, at most." },
  { env: "JOBSERVICE_BATCH_MAX_DELAY_MS", flag: "batch-max-delay-ms", default: "5", description: "How long the first event of a batch may wait for others." },
] as const satisfies readonly Setting[];

export type SettingFlag = (typeof SETTINGS)[number]["flag"];
