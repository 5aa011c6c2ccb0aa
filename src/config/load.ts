import { parseArgs } from "node:util";
import type { LevelWithSilent } from "pino";
import { LOG_LEVELS } from "../observability/logger.js";
import type { StoreSpec } from "../store/open.js";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { SUBSCRIBER_DEFAULTS, type ArmadaCredentials, type SubscriberOptions } from "../subscriber/options.js";
import { ASYMMETRIC_ALGORITHMS, AUTH_DEFAULTS, AUTH_MODES, type AuthOptions } from "../auth/options.js";
import { parsePermissions } from "../auth/permissions.js";
import { loadFile } from "../auth/reloading-file.js";
import { parseUsers } from "../auth/users-file.js";
import { integer, list, nonEmpty, oneOf, readableFile, url, type Parse } from "./parse.js";
import { SETTINGS, type Setting, type SettingFlag } from "./settings.js";

export interface ServeConfig {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly store: StoreSpec;
  readonly jobTtlSeconds: number;
  readonly maxRequestBytes: number;
  readonly shutdownGraceSeconds: number;
  readonly logLevel: LevelWithSilent;
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
    auth: authOptions(raw, get, problems, (flag) => describe(setting(flag))),
    host: raw.get("host") ?? "0.0.0.0",
    port: get("port", integer(0, 65535)) ?? 60003,
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    store: storeSpec(raw, problems, (flag) => describe(setting(flag))),
    jobTtlSeconds: get("job-ttl-seconds", integer(1, 365 * 86400)) ?? 86400,
    maxRequestBytes: get("max-request-bytes", integer(1024, 64 * 1024 * 1024)) ?? 65536,
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
  let parsed: URL;
  try {
    parsed = url(["redis:", "rediss:", "https:"])(value);
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

/** The caller check: one mode, with exactly the settings it uses, and its files readable and well-formed now. */
function authOptions(
  raw: Map<SettingFlag, string>,
  get: <T>(flag: SettingFlag, parse: Parse<T>) => T | undefined,
  problems: string[],
  name: (flag: SettingFlag) => string,
): AuthOptions {
  const mode = get("auth", oneOf(AUTH_MODES)) ?? AUTH_DEFAULTS.mode;
  const onlyWith = (flags: readonly SettingFlag[], modes: readonly string[]): void => {
    for (const flag of flags) {
      if (raw.has(flag) && !modes.includes(mode)) problems.push(`${name(flag)}: only used with ${name("auth")} ${modes.join(" or ")}, not ${mode}`);
    }
  };
  const oidcFlags: SettingFlag[] = ["oidc-issuer", "oidc-audience", "oidc-algorithms", "oidc-leeway-seconds", "oidc-username-claim", "oidc-groups-claim"];
  onlyWith(oidcFlags, ["oidc"]);
  onlyWith(["users-file"], ["basic"]);
  onlyWith(["permissions-file"], ["oidc", "basic", "armada"]);
  onlyWith(["auth-cache-seconds"], ["armada", "basic"]);
  const require = (flag: SettingFlag): void => {
    if (!raw.has(flag)) problems.push(`${name(flag)}: required with ${name("auth")} ${mode}`);
  };
  const parsedFile = (flag: SettingFlag, parse: (text: string) => unknown): string | undefined => {
    const path = raw.get(flag);
    if (path === undefined) return undefined;
    try {
      loadFile(path, parse);
    } catch (error) {
      problems.push(`${name(flag)}: ${(error as Error).message}`);
    }
    return path;
  };

  const permissionsFile = parsedFile("permissions-file", parsePermissions);
  const usersFile = mode === "basic" ? parsedFile("users-file", parseUsers) : undefined;
  if (mode === "oidc" || mode === "basic") require("permissions-file");
  if (mode === "basic") require("users-file");
  let oidc: AuthOptions["oidc"];
  if (mode === "oidc") {
    require("oidc-issuer");
    require("oidc-audience");
    const issuer = get("oidc-issuer", url(["http:", "https:"]));
    const algorithms = list(raw.get("oidc-algorithms") ?? "RS256,PS256,ES256,EdDSA");
    const unsafe = algorithms.filter((alg) => !ASYMMETRIC_ALGORITHMS.includes(alg));
    if (unsafe.length > 0 || algorithms.length === 0) {
      problems.push(`${name("oidc-algorithms")}: expected asymmetric JWS algorithms (${ASYMMETRIC_ALGORITHMS.join(", ")}), got ${unsafe.join(", ") || "none"}`);
    }
    oidc = {
      // As given, not normalised by URL: tokens must carry exactly this `iss`.
      issuer: issuer ? (raw.get("oidc-issuer") ?? "") : "",
      audience: raw.get("oidc-audience") ?? "",
      algorithms,
      leewaySeconds: get("oidc-leeway-seconds", integer(0, 600)) ?? 30,
      usernameClaim: get("oidc-username-claim", nonEmpty) ?? "sub",
      groupsClaim: get("oidc-groups-claim", nonEmpty) ?? "groups",
    };
  }

  const clientCaFile = get("tls-client-ca-file", readableFile);
  if (raw.has("tls-client-ca-file")) {
    if (!raw.has("tls-cert-file")) problems.push(`${name("tls-client-ca-file")}: needs TLS (${name("tls-cert-file")} and ${name("tls-key-file")})`);
    if (mode === "none") problems.push(`${name("tls-client-ca-file")}: needs ${name("auth")} armada, oidc or basic; with none every caller is let in anyway`);
    if (!raw.has("permissions-file")) problems.push(`${name("tls-client-ca-file")}: needs ${name("permissions-file")}, which decides what a certificate's subject may watch`);
  }

  return {
    mode,
    cacheSeconds: get("auth-cache-seconds", integer(0, 86_400)) ?? AUTH_DEFAULTS.cacheSeconds,
    oidc,
    usersFile,
    permissionsFile,
    metricsToken: raw.get("metrics-token"),
    maxNewSubscriptionsPerMinute: get("max-new-subscriptions-per-minute", integer(0, 1_000_000)) ?? AUTH_DEFAULTS.maxNewSubscriptionsPerMinute,
    clientCaFile,
  };
}
