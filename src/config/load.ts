import { parseArgs } from "node:util";
import type { LevelWithSilent } from "pino";
import { LOG_LEVELS } from "../observability/logger.js";
import { LOG_FORMAT_CHOICES, type LogFormatChoice } from "../observability/pretty-log.js";
import { isClusterUrl, parseClusterUrl } from "../store/cluster-url.js";
import type { StoreSpec } from "../store/open.js";
import type { ConnectionLimits } from "../server/limits.js";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { SUBSCRIBER_DEFAULTS, type ArmadaCredentials, type SubscriberOptions } from "../subscriber/options.js";
import { readFileSync } from "node:fs";
import { readArmadactlConfig } from "./armadactl-config.js";
import { AUTH_MODES, type AuthOptions } from "../auth/options.js";
import { parsePermissions } from "../auth/permissions.js";
import { loadFile } from "../auth/reloading-file.js";
import { parseUsers } from "../auth/users-file.js";
import { integer, list, nonEmpty, oneOf, url, type Parse } from "./parse.js";
import { readableFile } from "./readable-file.js";
import { OIDC_FLAGS, oidcOptions, onlyWith, requireFor, settingReader, type SettingReader } from "./setting-reader.js";
import { defaultText, SETTINGS, type Setting, type SettingFlag } from "./settings.js";

export interface ServeConfig {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly store: StoreSpec;
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
  const { get, value } = settingReader(raw, name, problems);

  const certFile = get("tls-cert-file", readableFile);
  const keyFile = get("tls-key-file", readableFile);
  if ((raw.has("tls-cert-file") || raw.has("tls-key-file")) && !(raw.has("tls-cert-file") && raw.has("tls-key-file"))) {
    problems.push(`${describe(setting("tls-cert-file"))} and ${describe(setting("tls-key-file"))}: expected both or neither`);
  }

  const maxSubscriptions = value("max-subscriptions", integer(1, 1_000_000));
  const maxConnections = value("armada-connections", integer(1, 256));
  const config = {
    auth: authOptions(settingReader(raw, (flag) => describe(setting(flag)), problems)),
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
    limits: {
      maxConnections: value("max-connections", integer(1, 1_000_000)),
      maxHeaderBytes: value("max-header-bytes", integer(1024, 1024 * 1024)),
      maxConcurrentStreams: value("max-concurrent-streams", integer(1, 100_000)),
      idleTimeoutMs: value("idle-timeout-seconds", integer(1, 86_400)) * 1000,
      requestTimeoutMs: value("request-timeout-seconds", integer(1, 3600)) * 1000,
    },
    shutdownGraceSeconds: value("shutdown-grace-seconds", integer(0, 3600)),
    logLevel: value("log-level", oneOf(LOG_LEVELS)),
    logFormat: value("log-format", oneOf(LOG_FORMAT_CHOICES)),
    statusPageIntervalMs: value("status-page-interval-ms", integer(100, 60_000)),
    subscriber: {
      ...SUBSCRIBER_DEFAULTS,
      armadaUrl: value("armada-url", url(["http:", "https:"])).toString().replace(/\/$/, ""),
      caFile: get("armada-ca-file", readableFile),
      credentials: credentials(raw, problems, name),
      catchUpWaitMs: value("catch-up-wait-ms", integer(0, 600_000)),
      subscriptionExpirySeconds: value("subscription-expiry-seconds", integer(1, 7 * 86400)),
      maxSubscriptions,
      idleTimeoutMs: value("stream-idle-timeout-ms", integer(1000, 86_400_000)),
      leaseTtlMs: value("lease-ttl-ms", integer(1000, 3_600_000)),
      replicaId: get("replica-id", nonEmpty) ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
      maxConnections,
      // Every allowed subscription must fit on the pool, or streams past the
      // pool's capacity would wait for a slot that never frees.
      maxStreamsPerConnection: Math.max(SUBSCRIBER_DEFAULTS.maxStreamsPerConnection, Math.ceil(maxSubscriptions / maxConnections)),
      batchMaxEvents: value("batch-max-events", integer(1, 100_000)),
      batchMaxDelayMs: value("batch-max-delay-ms", integer(0, 10_000)),
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
  const value = raw.get(flag) ?? defaultText("store");
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

/** The settings that choose each way of authenticating to Armada: giving any of them picks the method. */
const CREDENTIAL_METHODS = {
  basic: ["armada-username", "armada-password"],
  bearer: ["armada-token"],
  "token-file": ["armada-token-file"],
  oidc: [
    "armada-oidc-token-url",
    "armada-oidc-provider-url",
    "armada-oidc-client-id",
    "armada-oidc-client-secret",
    "armada-oidc-scopes",
    "armada-oidc-username",
    "armada-oidc-password",
    "armada-oidc-assertion-file",
  ],
  exec: ["armada-exec-command", "armada-exec-args", "armada-exec-env"],
  kubernetes: ["armada-kubernetes-auth", "armada-kubernetes-token-file", "armada-kubernetes-ca-file"],
} as const satisfies Record<string, readonly SettingFlag[]>;

type Method = keyof typeof CREDENTIAL_METHODS;

function methodsIn(values: ReadonlyMap<SettingFlag, string>): Array<[Method, SettingFlag[]]> {
  return (Object.entries(CREDENTIAL_METHODS) as Array<[Method, readonly SettingFlag[]]>)
    .map(([method, flags]): [Method, SettingFlag[]] => [
      method,
      // An explicit ARMADA_KUBERNETES_AUTH=false chooses nothing.
      flags.filter((flag) => values.has(flag) && !(flag === "armada-kubernetes-auth" && values.get(flag) === "false")),
    ])
    .filter(([, flags]) => flags.length > 0);
}

/**
 * Fills in what ARMADA_CONFIG says for every Armada setting not given
 * explicitly. Its credentials are used only when the explicit settings name
 * no method or the same one (so a secret can come from the environment and
 * the rest from the file); a different explicit method wins outright.
 */
function withArmadactlConfig(
  explicit: Map<SettingFlag, string>,
  origins: Map<SettingFlag, string>,
  problems: string[],
  name: (flag: SettingFlag) => string,
): Map<SettingFlag, string> {
  const file = explicit.get("armada-config");
  if (file === undefined) {
    if (explicit.has("armada-context")) problems.push(`${name("armada-context")}: only used with ${name("armada-config")}`);
    return explicit;
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    problems.push(`${name("armada-config")}: cannot read armadactl config file ${file} (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
    return explicit;
  }
  const fromFile = readArmadactlConfig({ file, text, context: explicit.get("armada-context"), name });
  problems.push(...fromFile.problems);
  const merged = new Map(explicit);
  const credentialFlags = new Set<SettingFlag>(Object.values(CREDENTIAL_METHODS).flat());
  const chosen = methodsIn(explicit).map(([method]) => method);
  const fileMethod = methodsIn(fromFile.values).map(([method]) => method);
  const useFileCredentials = chosen.length === 0 || (chosen.length === 1 && fileMethod.length === 1 && chosen[0] === fileMethod[0]);
  if (useFileCredentials) problems.push(...fromFile.authProblems);
  for (const [flag, value] of fromFile.values) {
    if (merged.has(flag) || (credentialFlags.has(flag) && !useFileCredentials)) continue;
    merged.set(flag, value);
    const origin = fromFile.origins.get(flag);
    if (origin !== undefined) origins.set(flag, origin);
  }
  return merged;
}

/** At most one way to authenticate to Armada, complete, or none. */
function credentials(raw: Map<SettingFlag, string>, problems: string[], name: (flag: SettingFlag) => string): ArmadaCredentials {
  const none: ArmadaCredentials = { kind: "none" };
  const chosen = methodsIn(raw);
  if (chosen.length > 1) {
    problems.push(`Armada credentials: expected one method, got ${chosen.map(([, flags]) => flags.map(name).join(" + ")).join(" and ")}`);
    return none;
  }
  const requireAll = (flags: readonly SettingFlag[], reference?: SettingFlag): boolean => {
    const missing = flags.filter((flag) => !raw.has(flag));
    const given = reference ?? (flags.find((f) => raw.has(f)) as SettingFlag);
    for (const flag of missing) problems.push(`${name(flag)}: required with ${name(given)}`);
    return missing.length === 0;
  };
  const value = (flag: SettingFlag): string => raw.get(flag) ?? defaultText(flag);
  const parsed = <T>(flag: SettingFlag, parse: Parse<T>): T | undefined => {
    try {
      return parse(value(flag));
    } catch (error) {
      problems.push(`${name(flag)}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const [method, given = []] = chosen[0] ?? [];
  switch (method) {
    case "basic":
      return requireAll(["armada-username", "armada-password"]) ? { kind: "basic", username: value("armada-username"), password: value("armada-password") } : none;
    case "bearer":
      return { kind: "bearer", token: value("armada-token") };
    case "token-file": {
      const path = parsed("armada-token-file", readableFile);
      return path === undefined ? none : { kind: "token-file", path };
    }
    case "oidc":
      return oidcCredentials(raw, problems, name, given);
    case "exec": {
      if (!requireAll(["armada-exec-command"], given[0])) return none;
      const args = raw.has("armada-exec-args") ? parsed("armada-exec-args", jsonStrings) : [];
      const env = raw.has("armada-exec-env") ? parsed("armada-exec-env", jsonEnvironment) : {};
      const timeoutMs = parsed("armada-exec-timeout-ms", integer(100, 600_000));
      const cacheSeconds = parsed("armada-exec-cache-seconds", integer(0, 86_400));
      if (args === undefined || env === undefined || timeoutMs === undefined || cacheSeconds === undefined) return none;
      return { kind: "exec", command: value("armada-exec-command"), args, env, timeoutMs, cacheSeconds };
    }
    case "kubernetes": {
      const enabled = parsed("armada-kubernetes-auth", oneOf(["true", "false"]));
      if (enabled === undefined) return none;
      if (enabled === "false") {
        for (const flag of given) problems.push(`${name(flag)}: only used with ${name("armada-kubernetes-auth")} set to true`);
        return none;
      }
      const tokenFile = parsed("armada-kubernetes-token-file", readableFile);
      const caFile = parsed("armada-kubernetes-ca-file", readableFile);
      return tokenFile === undefined || caFile === undefined ? none : { kind: "kubernetes", tokenFile, caFile };
    }
    case undefined:
      return none;
  }
}

function oidcCredentials(raw: Map<SettingFlag, string>, problems: string[], name: (flag: SettingFlag) => string, given: readonly SettingFlag[]): ArmadaCredentials {
  const none: ArmadaCredentials = { kind: "none" };
  const reference = given[0] as SettingFlag;
  const value = (flag: SettingFlag): string => raw.get(flag) ?? "";
  let ok = true;
  const require = (flag: SettingFlag, why = `required with ${name(reference)}`): void => {
    if (raw.has(flag)) return;
    problems.push(`${name(flag)}: ${why}`);
    ok = false;
  };
  if (raw.has("armada-oidc-token-url") && raw.has("armada-oidc-provider-url")) {
    problems.push(`${name("armada-oidc-token-url")} and ${name("armada-oidc-provider-url")}: expected one of them, not both`);
    ok = false;
  } else if (!raw.has("armada-oidc-token-url") && !raw.has("armada-oidc-provider-url")) {
    problems.push(`${name("armada-oidc-token-url")} or ${name("armada-oidc-provider-url")}: one is required with ${name(reference)}`);
    ok = false;
  }
  const endpointFlag: SettingFlag = raw.has("armada-oidc-token-url") ? "armada-oidc-token-url" : "armada-oidc-provider-url";
  if (raw.has(endpointFlag)) {
    try {
      url(["http:", "https:"])(value(endpointFlag));
    } catch (error) {
      problems.push(`${name(endpointFlag)}: ${(error as Error).message}`);
      ok = false;
    }
  }
  require("armada-oidc-client-id");
  const passwordGrant = raw.has("armada-oidc-username") || raw.has("armada-oidc-password");
  const kubernetesGrant = raw.has("armada-oidc-assertion-file");
  if (kubernetesGrant) {
    for (const flag of ["armada-oidc-username", "armada-oidc-password", "armada-oidc-client-secret"] as const) {
      if (!raw.has(flag)) continue;
      problems.push(`${name(flag)}: not used with ${name("armada-oidc-assertion-file")} (the kubernetes grant sends the service-account token instead)`);
      ok = false;
    }
    try {
      readableFile(value("armada-oidc-assertion-file"));
    } catch (error) {
      problems.push(`${name("armada-oidc-assertion-file")}: ${(error as Error).message}`);
      ok = false;
    }
  } else if (passwordGrant) {
    require("armada-oidc-username", `required with ${name("armada-oidc-password")}`);
    require("armada-oidc-password", `required with ${name("armada-oidc-username")}`);
  } else {
    require("armada-oidc-client-secret", `required with ${name(reference)} (or ${name("armada-oidc-username")} and ${name("armada-oidc-password")} for the password grant)`);
  }
  if (!ok) return none;
  const endpoint = endpointFlag === "armada-oidc-token-url" ? { tokenUrl: value(endpointFlag) } : { providerUrl: value(endpointFlag) };
  const scopes = list(value("armada-oidc-scopes"));
  if (kubernetesGrant) {
    return { kind: "oidc-kubernetes", ...endpoint, clientId: value("armada-oidc-client-id"), assertionFile: value("armada-oidc-assertion-file"), scopes };
  }
  if (passwordGrant) {
    return {
      kind: "oidc-password",
      ...endpoint,
      clientId: value("armada-oidc-client-id"),
      ...(raw.has("armada-oidc-client-secret") ? { clientSecret: value("armada-oidc-client-secret") } : {}),
      username: value("armada-oidc-username"),
      password: value("armada-oidc-password"),
      scopes,
    };
  }
  return { kind: "oidc", ...endpoint, clientId: value("armada-oidc-client-id"), clientSecret: value("armada-oidc-client-secret"), scopes };
}

/** ARMADA_EXEC_ARGS: a JSON array of strings. */
function jsonStrings(raw: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('expected a JSON array of strings, e.g. ["token","--audience","armada"], got something that is not JSON');
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === "string")) throw new Error("expected a JSON array of strings");
  return parsed;
}

/** ARMADA_EXEC_ENV: a JSON object of strings. Its values may be secrets, so no message quotes them. */
function jsonEnvironment(raw: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('expected a JSON object of strings, e.g. {"AWS_PROFILE":"armada"}, got something that is not JSON');
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("expected a JSON object of strings");
  const wrong = Object.entries(parsed).find(([, v]) => typeof v !== "string");
  if (wrong) throw new Error(`expected a JSON object of strings; the value of ${JSON.stringify(wrong[0])} is not a string`);
  return parsed as Record<string, string>;
}

/** The caller check: one mode, with exactly the settings it uses, and its files readable and well-formed now. */
function authOptions(reader: SettingReader): AuthOptions {
  const { raw, get, value, problems, name } = reader;
  const mode = value("auth", oneOf(AUTH_MODES));
  onlyWith(reader, mode, OIDC_FLAGS, ["oidc"]);
  onlyWith(reader, mode, ["users-file"], ["basic"]);
  onlyWith(reader, mode, ["permissions-file"], ["oidc", "basic", "armada"]);
  onlyWith(reader, mode, ["auth-cache-seconds"], ["armada", "basic"]);
  const require = (flag: SettingFlag): void => requireFor(reader, mode, flag);
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
  const oidc = mode === "oidc" ? oidcOptions(reader) : undefined;

  const clientCaFile = get("tls-client-ca-file", readableFile);
  if (raw.has("tls-client-ca-file")) {
    if (!raw.has("tls-cert-file")) problems.push(`${name("tls-client-ca-file")}: needs TLS (${name("tls-cert-file")} and ${name("tls-key-file")})`);
    if (mode === "none") problems.push(`${name("tls-client-ca-file")}: needs ${name("auth")} armada, oidc or basic; with none every caller is let in anyway`);
    if (!raw.has("permissions-file")) problems.push(`${name("tls-client-ca-file")}: needs ${name("permissions-file")}, which decides what a certificate's subject may watch`);
  }

  return {
    mode,
    cacheSeconds: value("auth-cache-seconds", integer(0, 86_400)),
    oidc,
    usersFile,
    permissionsFile,
    metricsToken: raw.get("metrics-token"),
    maxNewSubscriptionsPerMinute: value("max-new-subscriptions-per-minute", integer(0, 1_000_000)),
    clientCaFile,
  };
}
