import { parseArgs } from "node:util";
import type { LevelWithSilent } from "pino";
import { LOG_LEVELS } from "../observability/logger.js";
import { isClusterUrl, parseClusterUrl } from "../store/cluster-url.js";
import type { StoreSpec } from "../store/open.js";
import type { ConnectionLimits } from "../server/limits.js";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { SUBSCRIBER_DEFAULTS, type ArmadaCredentials, type SubscriberOptions } from "../subscriber/options.js";
import { integer, list, nonEmpty, oneOf, readableFile, url, type Parse } from "./parse.js";
import { SETTINGS, type Setting, type SettingFlag } from "./settings.js";

export interface ServeConfig {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly store: StoreSpec;
  readonly jobTtlSeconds: number;
  readonly maxRequestBytes: number;
  readonly limits: ConnectionLimits;
  readonly shutdownGraceSeconds: number;
  readonly logLevel: LevelWithSilent;
  readonly subscriber: SubscriberOptions;
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
  const raw = readRaw(env, argv, problems);

  const setting = (flag: SettingFlag): Setting => SETTINGS.find((s) => s.flag === flag) as Setting;
  function get<T>(flag: SettingFlag, parse: Parse<T>): T | undefined {
    const value = raw.get(flag);
    if (value === undefined) return undefined;
    try {
      return parse(value);
    } catch (error) {
      problems.push(`${describe(setting(flag))}: ${(error as Error).message}`);
      return undefined;
    }
  }

  const certFile = get("tls-cert-file", readableFile);
  const keyFile = get("tls-key-file", readableFile);
  if ((raw.has("tls-cert-file") || raw.has("tls-key-file")) && !(raw.has("tls-cert-file") && raw.has("tls-key-file"))) {
    problems.push(`${describe(setting("tls-cert-file"))} and ${describe(setting("tls-key-file"))}: expected both or neither`);
  }

  const maxSubscriptions = get("max-subscriptions", integer(1, 1_000_000)) ?? SUBSCRIBER_DEFAULTS.maxSubscriptions;
  const maxConnections = get("armada-connections", integer(1, 256)) ?? SUBSCRIBER_DEFAULTS.maxConnections;
  const config = {
    host: raw.get("host") ?? "0.0.0.0",
    port: get("port", integer(0, 65535)) ?? 60003,
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    store: storeSpec(raw, problems, (flag) => describe(setting(flag))),
    jobTtlSeconds: get("job-ttl-seconds", integer(1, 365 * 86400)) ?? 86400,
    maxRequestBytes: get("max-request-bytes", integer(1024, 64 * 1024 * 1024)) ?? 65536,
    limits: {
      maxConnections: get("max-connections", integer(1, 1_000_000)) ?? 10_000,
      maxHeaderBytes: get("max-header-bytes", integer(1024, 1024 * 1024)) ?? 16_384,
      maxConcurrentStreams: get("max-concurrent-streams", integer(1, 100_000)) ?? 100,
      idleTimeoutMs: (get("idle-timeout-seconds", integer(1, 86_400)) ?? 60) * 1000,
      requestTimeoutMs: (get("request-timeout-seconds", integer(1, 3600)) ?? 30) * 1000,
    },
    shutdownGraceSeconds: get("shutdown-grace-seconds", integer(0, 3600)) ?? 10,
    logLevel: get("log-level", oneOf(LOG_LEVELS)) ?? "info",
    subscriber: {
      ...SUBSCRIBER_DEFAULTS,
      armadaUrl: (get("armada-url", url(["http:", "https:"])) ?? new URL("http://localhost:50051")).toString().replace(/\/$/, ""),
      caFile: get("armada-ca-file", readableFile),
      credentials: credentials(raw, problems, (flag) => describe(setting(flag))),
      catchUpWaitMs: get("catch-up-wait-ms", integer(0, 600_000)) ?? SUBSCRIBER_DEFAULTS.catchUpWaitMs,
      subscriptionExpirySeconds: get("subscription-expiry-seconds", integer(1, 7 * 86400)) ?? SUBSCRIBER_DEFAULTS.subscriptionExpirySeconds,
      maxSubscriptions,
      idleTimeoutMs: get("stream-idle-timeout-ms", integer(1000, 86_400_000)) ?? SUBSCRIBER_DEFAULTS.idleTimeoutMs,
      leaseTtlMs: get("lease-ttl-ms", integer(1000, 3_600_000)) ?? SUBSCRIBER_DEFAULTS.leaseTtlMs,
      replicaId: get("replica-id", nonEmpty) ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
      maxConnections,
      // Every allowed subscription must fit on the pool, or streams past the
      // pool's capacity would wait for a slot that never frees.
      maxStreamsPerConnection: Math.max(SUBSCRIBER_DEFAULTS.maxStreamsPerConnection, Math.ceil(maxSubscriptions / maxConnections)),
      batchMaxEvents: get("batch-max-events", integer(1, 100_000)) ?? SUBSCRIBER_DEFAULTS.batchMaxEvents,
      batchMaxDelayMs: get("batch-max-delay-ms", integer(0, 10_000)) ?? SUBSCRIBER_DEFAULTS.batchMaxDelayMs,
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
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

function storeSpec(raw: Map<SettingFlag, string>, problems: string[], name: (flag: SettingFlag) => string): StoreSpec {
  const flag: SettingFlag = raw.has("store") ? "store" : raw.has("upstash-url") ? "upstash-url" : "store";
  const value = raw.get(flag) ?? "memory";
  if (value === "memory") return { kind: "memory" };
  if (isClusterUrl(value)) {
    try {
      parseClusterUrl(value);
    } catch (error) {
      problems.push(`${name(flag)}: ${(error as Error).message}`);
      return { kind: "memory" };
    }
    return { kind: "redis-cluster", url: value };
  }
  let parsed: URL;
  try {
    // Cluster URLs were taken above; they are listed so the message names them.
    parsed = url(["redis:", "rediss:", "redis-cluster:", "rediss-cluster:", "https:"])(value);
  } catch (error) {
    problems.push(`${name(flag)}: expected "memory" or a URL; ${(error as Error).message}`);
    return { kind: "memory" };
  }
  if (parsed.protocol !== "https:") return { kind: "redis", url: value };
  const token = raw.get("upstash-token");
  if (!token) {
    problems.push(`${name("upstash-token")}: required with an Upstash REST store (${name(flag)} is an https:// URL)`);
    return { kind: "memory" };
  }
  return { kind: "upstash", url: value, token };
}

/** At most one way to authenticate to Armada, complete, or none. */
function credentials(raw: Map<SettingFlag, string>, problems: string[], name: (flag: SettingFlag) => string): ArmadaCredentials {
  const given = (flags: readonly SettingFlag[]) => flags.filter((flag) => raw.has(flag));
  const methods = {
    basic: given(["armada-username", "armada-password"]),
    bearer: given(["armada-token"]),
    "token-file": given(["armada-token-file"]),
    oidc: given(["armada-oidc-token-url", "armada-oidc-client-id", "armada-oidc-client-secret", "armada-oidc-scopes"]),
  };
  const chosen = Object.entries(methods).filter(([, flags]) => flags.length > 0);
  if (chosen.length > 1) {
    problems.push(`Armada credentials: expected one method, got ${chosen.map(([, flags]) => flags.map(name).join(" + ")).join(" and ")}`);
    return { kind: "none" };
  }
  const requireAll = (flags: readonly SettingFlag[]): boolean => {
    const missing = flags.filter((flag) => !raw.has(flag));
    for (const flag of missing) problems.push(`${name(flag)}: required with ${name(flags.find((f) => raw.has(f)) as SettingFlag)}`);
    return missing.length === 0;
  };
  const value = (flag: SettingFlag): string => raw.get(flag) ?? "";
  switch (chosen[0]?.[0]) {
    case "basic":
      return requireAll(["armada-username", "armada-password"])
        ? { kind: "basic", username: value("armada-username"), password: value("armada-password") }
        : { kind: "none" };
    case "bearer":
      return { kind: "bearer", token: value("armada-token") };
    case "token-file":
      try {
        return { kind: "token-file", path: readableFile(value("armada-token-file")) };
      } catch (error) {
        problems.push(`${name("armada-token-file")}: ${(error as Error).message}`);
        return { kind: "none" };
      }
    case "oidc": {
      if (!requireAll(["armada-oidc-token-url", "armada-oidc-client-id", "armada-oidc-client-secret"])) return { kind: "none" };
      try {
        url(["http:", "https:"])(value("armada-oidc-token-url"));
      } catch (error) {
        problems.push(`${name("armada-oidc-token-url")}: ${(error as Error).message}`);
        return { kind: "none" };
      }
      return {
        kind: "oidc",
        tokenUrl: value("armada-oidc-token-url"),
        clientId: value("armada-oidc-client-id"),
        clientSecret: value("armada-oidc-client-secret"),
        scopes: list(value("armada-oidc-scopes")),
      };
    }
    default:
      return { kind: "none" };
  }
}
