import { AUTH_MODES, type AuthOptions } from "../auth/options.js";
import { parsePermissions } from "../auth/permissions.js";
import { loadFile } from "../auth/reloading-file.js";
import { parseUsers } from "../auth/users-file.js";
import { integer, oneOf } from "./parse.js";
import { readableFile } from "./readable-file.js";
import { OIDC_FLAGS, oidcOptions, onlyWith, requireFor, type SettingReader } from "./setting-reader.js";
import type { SettingFlag } from "./settings.js";

/** The caller check: one mode, with exactly the settings it uses, and its files readable and well-formed now. */
export function callerAuth(reader: SettingReader): AuthOptions {
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
    if (!raw.has("permissions-file"))
      problems.push(`${name("tls-client-ca-file")}: needs ${name("permissions-file")}, which decides what a certificate's subject may watch`);
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
