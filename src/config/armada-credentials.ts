import type { ArmadaCredentials } from "../subscriber/options.js";
import { methodsIn } from "./credential-methods.js";
import { integer, list, oneOf, url, type Parse } from "./parse.js";
import { readableFile } from "./readable-file.js";
import { defaultText, type SettingFlag } from "./settings.js";

/** At most one way to authenticate to Armada, complete, or none. */
export function credentials(raw: Map<SettingFlag, string>, problems: string[], name: (flag: SettingFlag) => string): ArmadaCredentials {
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
      return requireAll(["armada-username", "armada-password"])
        ? { kind: "basic", username: value("armada-username"), password: value("armada-password") }
        : none;
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

function oidcCredentials(
  raw: Map<SettingFlag, string>,
  problems: string[],
  name: (flag: SettingFlag) => string,
  given: readonly SettingFlag[],
): ArmadaCredentials {
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
