import { parseArgs } from "node:util";
import type { LevelWithSilent } from "pino";
import { LOG_LEVELS } from "../observability/logger.js";
import type { StoreSpec } from "../store/open.js";
import { integer, oneOf, readableFile, url, type Parse } from "./parse.js";
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

  const config = {
    host: raw.get("host") ?? "0.0.0.0",
    port: get("port", integer(0, 65535)) ?? 60003,
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    store: storeSpec(raw, problems, (flag) => describe(setting(flag))),
    jobTtlSeconds: get("job-ttl-seconds", integer(1, 365 * 86400)) ?? 86400,
    maxRequestBytes: get("max-request-bytes", integer(1024, 64 * 1024 * 1024)) ?? 65536,
    shutdownGraceSeconds: get("shutdown-grace-seconds", integer(0, 3600)) ?? 10,
    logLevel: get("log-level", oneOf(LOG_LEVELS)) ?? "info",
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
