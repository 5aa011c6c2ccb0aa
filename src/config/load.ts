import { parseArgs } from "node:util";
import type { LevelWithSilent } from "pino";
import type { AuthOptions } from "../auth/options.js";
import type { ConnectionLimits } from "../server/limits.js";
import { LOG_LEVELS } from "../observability/logger.js";
import { LOG_FORMAT_CHOICES, type LogFormatChoice } from "../observability/pretty-log.js";
import type { StoreSpec } from "../store/open.js";
import type { ReplicaAck } from "../store/resp-scripts.js";
import type { SubscriberOptions } from "../subscriber/options.js";
import { credentials } from "./armada-credentials.js";
import { callerAuth } from "./caller-auth.js";
import { withArmadactlConfig } from "./credential-methods.js";
import { integer, oneOf } from "./parse.js";
import { readableFile } from "./readable-file.js";
import { connectionLimits } from "./server-limits.js";
import { settingReader } from "./setting-reader.js";
import { SETTINGS, type Setting, type SettingFlag } from "./settings.js";
import { replicaAck, storeSpec } from "./store-spec.js";
import { subscriberOptions, subscriberPool } from "./subscriber-settings.js";

export interface ServeConfig {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly store: StoreSpec;
  /** Acknowledge store writes only once this many replicas have them (Redis and Redis Cluster). */
  readonly replicaAck?: ReplicaAck;
  readonly jobTtlSeconds: number;
  readonly maxRequestBytes: number;
  readonly fastPath: boolean;
  readonly maxBatchIds: number;
  /** Pass Armada's other methods through to ARMADA_URL. */
  readonly armadaPassthrough: boolean;
  readonly maxWatches: number;
  readonly watchPollMs: number;
  readonly limits: ConnectionLimits;
  readonly shutdownGraceSeconds: number;
  readonly logLevel: LevelWithSilent;
  readonly logFormat: LogFormatChoice;
  readonly statusPageIntervalMs: number;
  readonly subscriber: SubscriberOptions;
  readonly auth: AuthOptions;
}

/** Every problem found in the configuration, each naming its setting. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/**
 * Reads `jobservice serve`'s configuration from flags and environment
 * variables (flags win) and validates all of it at once, so a bad deployment
 * fails at start-up with every mistake listed rather than at the first call.
 */
export function loadServeConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): ServeConfig {
  const problems: string[] = [];
  const explicit = readRaw(env, argv, problems);
  const setting = (flag: SettingFlag): Setting => SETTINGS.find((s) => s.flag === flag) as Setting;
  const origins = new Map<SettingFlag, string>();
  /** A setting by its variable and flag, or by its place in ARMADA_CONFIG when the value came from there. */
  const name = (flag: SettingFlag): string => origins.get(flag) ?? describe(setting(flag));
  const raw = withArmadactlConfig(explicit, origins, problems, name);
  const reader = settingReader(raw, name, problems);
  const { get, value } = reader;

  const certFile = get("tls-cert-file", readableFile);
  const keyFile = get("tls-key-file", readableFile);
  if ((raw.has("tls-cert-file") || raw.has("tls-key-file")) && !(raw.has("tls-cert-file") && raw.has("tls-key-file"))) {
    problems.push(`${describe(setting("tls-cert-file"))} and ${describe(setting("tls-key-file"))}: expected both or neither`);
  }

  // Read first, so problems keep the order they have always been listed in.
  const pool = subscriberPool(reader);
  const config = {
    auth: callerAuth(settingReader(raw, (flag) => describe(setting(flag)), problems)),
    host: value("host", String),
    port: value("port", integer(0, 65535)),
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    store: storeSpec(raw, problems, name),
    jobTtlSeconds: value("job-ttl-seconds", integer(1, 365 * 86400)),
    maxRequestBytes: value("max-request-bytes", integer(1024, 64 * 1024 * 1024)),
    fastPath: value("fast-path", oneOf(["true", "false"])) === "true",
    maxBatchIds: value("max-batch-ids", integer(1, 100_000)),
    armadaPassthrough: value("armada-passthrough", oneOf(["true", "false"])) === "true",
    maxWatches: value("max-watches", integer(1, 1_000_000)),
    watchPollMs: value("watch-poll-ms", integer(10, 600_000)),
    limits: connectionLimits(reader),
    shutdownGraceSeconds: value("shutdown-grace-seconds", integer(0, 3600)),
    logLevel: value("log-level", oneOf(LOG_LEVELS)),
    logFormat: value("log-format", oneOf(LOG_FORMAT_CHOICES)),
    statusPageIntervalMs: value("status-page-interval-ms", integer(100, 60_000)),
    subscriber: subscriberOptions(reader, pool, () => credentials(raw, problems, name)),
  };
  const ack = replicaAck(config.store, reader, problems, name);
  if (problems.length > 0) throw new ConfigError(problems);
  return ack ? { ...config, replicaAck: ack } : config;
}

function describe(setting: Setting): string {
  return `${setting.env} (--${setting.flag})`;
}

/** Raw values by flag name: flags first, then the environment; empty means unset. */
function readRaw(env: Readonly<Record<string, string | undefined>>, argv: readonly string[], problems: string[]): Map<SettingFlag, string> {
  const raw = new Map<SettingFlag, string>();
  let flags: Record<string, string | boolean | undefined> = {};
  try {
    flags = parseArgs({
      args: [...argv],
      options: Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: "string" as const }])),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    problems.push((error as Error).message);
  }
  for (const s of SETTINGS) {
    const value = flags[s.flag] ?? env[s.env];
    if (typeof value === "string" && value !== "") raw.set(s.flag, value);
  }
  return raw;
}
