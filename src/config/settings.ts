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
  { env: "JOBSERVICE_STORE", flag: "store", default: "memory", description: "`memory`, `redis://host:port[/db]`, `rediss://…` or an Upstash REST URL `https://…`." },
  { env: "UPSTASH_REDIS_REST_URL", flag: "upstash-url", default: "", description: "Upstash REST URL, used when JOBSERVICE_STORE is unset." },
  { env: "UPSTASH_REDIS_REST_TOKEN", flag: "upstash-token", default: "", description: "Upstash REST token (required with an https:// store).", secret: true },
  { env: "JOBSERVICE_JOB_TTL_SECONDS", flag: "job-ttl-seconds", default: "86400", description: "How long a job set's data is kept after its last activity." },
  { env: "JOBSERVICE_MAX_REQUEST_BYTES", flag: "max-request-bytes", default: "65536", description: "Larger requests are refused with RESOURCE_EXHAUSTED." },
  { env: "JOBSERVICE_SHUTDOWN_GRACE_SECONDS", flag: "shutdown-grace-seconds", default: "10", description: "On SIGTERM/SIGINT, how long in-flight calls may take to finish." },
  { env: "JOBSERVICE_LOG_LEVEL", flag: "log-level", default: "info", description: "fatal, error, warn, info, debug, trace or silent." },
] as const satisfies readonly Setting[];

export type SettingFlag = (typeof SETTINGS)[number]["flag"];
