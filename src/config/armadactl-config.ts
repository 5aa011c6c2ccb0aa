import { parseDocument } from "yaml";
import type { SettingFlag } from "./settings.js";

/** What an armadactl config file says, as values of the service's own settings. */
export interface ArmadactlSettings {
  readonly values: ReadonlyMap<SettingFlag, string>;
  /** Where each value came from, for error messages: `contexts.main.basicAuth.password`. */
  readonly origins: ReadonlyMap<SettingFlag, string>;
  /** The file itself or its context is unusable. */
  readonly problems: readonly string[];
  /** The context's auth block is unusable: moot when explicit settings choose another method. */
  readonly authProblems: readonly string[];
}

export interface ArmadactlSource {
  /** The file's path, as given, for messages. */
  readonly file: string;
  readonly text: string;
  /** The context asked for explicitly (ARMADA_CONTEXT), overriding the file's `currentContext`. */
  readonly context?: string;
  /** How to name the settings in problems: `ARMADA_CONFIG (--armada-config)`. */
  readonly name: (flag: SettingFlag) => string;
}

type Mapping = Record<string, unknown>;

/** Where armadactl's openIdKubernetesAuth reads the service-account token. */
const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

const isMapping = (value: unknown): value is Mapping => typeof value === "object" && value !== null && !Array.isArray(value);

/** armadactl reads its file through viper, which ignores the case of keys. */
function field(node: unknown, key: string): unknown {
  if (!isMapping(node)) return undefined;
  const wanted = key.toLowerCase();
  const found = Object.keys(node).find((k) => k.toLowerCase() === wanted);
  return found === undefined ? undefined : node[found];
}

function scalar(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

function flagOn(value: unknown): boolean {
  return value === true || (typeof value === "string" && value.toLowerCase() === "true");
}

/**
 * armadactl dials `host:port` and uses TLS unless `forceNoTls` is set or the
 * address contains "localhost" (pkg/client/connection.go); gRPC's default port is 443.
 */
export function armadactlUrl(address: string, forceNoTls: boolean): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) return address;
  const scheme = forceNoTls || address.includes("localhost") ? "http" : "https";
  const hasPort = /^\[[^\]]+\]:\d+$/.test(address) || /^[^:[\]]+:\d+$/.test(address);
  return `${scheme}://${hasPort ? address : `${address}:443`}`;
}

/**
 * Reads armadactl's config file (`currentContext`, `contexts.<name>` with
 * `armadaUrl` and one auth block, or the legacy flat layout) into setting
 * values. When a context holds several auth blocks, the first in armadactl's
 * own order wins, as it does for armadactl. Interactive flows (browser PKCE,
 * device code) cannot run in a service and are reported.
 */
export function readArmadactlConfig(source: ArmadactlSource): ArmadactlSettings {
  const values = new Map<SettingFlag, string>();
  const origins = new Map<SettingFlag, string>();
  const problems: string[] = [];
  const authProblems: string[] = [];
  const config = source.name("armada-config");
  const result = (): ArmadactlSettings => ({ values, origins, problems, authProblems });

  const document = parseDocument(source.text);
  const [error] = document.errors;
  if (error) {
    // Only the position and the error's code: messages and excerpts may quote a password.
    const at = error.linePos?.[0];
    problems.push(`${config}: ${source.file} is not valid YAML (${error.code}${at ? ` at line ${at.line}, column ${at.col}` : ""})`);
    return result();
  }
  const root: unknown = document.toJS();
  if (!isMapping(root)) {
    problems.push(`${config}: ${source.file} should be a YAML mapping with currentContext and contexts`);
    return result();
  }

  const contexts = field(root, "contexts");
  const names = isMapping(contexts) ? Object.keys(contexts) : [];
  const fromFile = scalar(field(root, "currentContext"));
  const chosen = source.context ?? (fromFile === "" ? undefined : fromFile);
  let details: unknown = root;
  let prefix = "";
  if (chosen !== undefined) {
    const name = names.find((n) => n === chosen) ?? names.find((n) => n.toLowerCase() === chosen.toLowerCase());
    if (name === undefined) {
      const valid = names.length > 0 ? `expected one of: ${names.join(", ")}` : "it defines no contexts";
      problems.push(
        source.context !== undefined
          ? `${source.name("armada-context")}: no context "${chosen}" in ${source.file}; ${valid}`
          : `${config}: currentContext "${chosen}" of ${source.file} names no context; ${valid}`,
      );
      return result();
    }
    details = (contexts as Mapping)[name];
    prefix = `contexts.${name}.`;
  } else if (names.length > 0) {
    problems.push(`${config}: ${source.file} has contexts but no currentContext; set ${source.name("armada-context")} to one of: ${names.join(", ")}`);
    return result();
  }

  const set = (flag: SettingFlag, value: string | undefined, path: string): void => {
    if (value === undefined || value === "") return;
    values.set(flag, value);
    origins.set(flag, `${prefix}${path} in ${config} ${source.file}`);
  };
  const block = (key: string): unknown => field(details, key);
  const blockValue = (key: string, name: string): string | undefined => scalar(field(block(key), name));
  const scopes = (key: string): string | undefined => {
    const list = field(block(key), "scopes");
    return Array.isArray(list)
      ? list
          .map(scalar)
          .filter((s) => s !== undefined)
          .join(" ")
      : scalar(list);
  };

  const address = scalar(block("armadaUrl"));
  if (address) set("armada-url", armadactlUrl(address, flagOn(block("forceNoTls"))), "armadaUrl");

  // armadactl's precedence (pkg/client/connection.go perRpcCredentials).
  if (blockValue("basicAuth", "username")) {
    set("armada-username", blockValue("basicAuth", "username"), "basicAuth.username");
    set("armada-password", blockValue("basicAuth", "password"), "basicAuth.password");
  } else if (flagOn(field(block("kubernetesNativeAuth"), "enabled"))) {
    set("armada-kubernetes-auth", "true", "kubernetesNativeAuth.enabled");
  } else if (blockValue("openIdAuth", "providerUrl")) {
    authProblems.push(
      `${config}: ${prefix}openIdAuth in ${source.file} is the interactive browser login, which a service cannot do; use openIdPasswordAuth, openIdClientCredentialsAuth or execAuth`,
    );
  } else if (blockValue("openIdDeviceAuth", "providerUrl")) {
    authProblems.push(
      `${config}: ${prefix}openIdDeviceAuth in ${source.file} is the interactive device login, which a service cannot do; use openIdPasswordAuth, openIdClientCredentialsAuth or execAuth`,
    );
  } else if (blockValue("openIdPasswordAuth", "providerUrl")) {
    set("armada-oidc-provider-url", blockValue("openIdPasswordAuth", "providerUrl"), "openIdPasswordAuth.providerUrl");
    set("armada-oidc-client-id", blockValue("openIdPasswordAuth", "clientId"), "openIdPasswordAuth.clientId");
    set("armada-oidc-scopes", scopes("openIdPasswordAuth"), "openIdPasswordAuth.scopes");
    set("armada-oidc-username", blockValue("openIdPasswordAuth", "username"), "openIdPasswordAuth.username");
    set("armada-oidc-password", blockValue("openIdPasswordAuth", "password"), "openIdPasswordAuth.password");
  } else if (blockValue("openIdClientCredentialsAuth", "providerUrl")) {
    set("armada-oidc-provider-url", blockValue("openIdClientCredentialsAuth", "providerUrl"), "openIdClientCredentialsAuth.providerUrl");
    set("armada-oidc-client-id", blockValue("openIdClientCredentialsAuth", "clientId"), "openIdClientCredentialsAuth.clientId");
    set("armada-oidc-client-secret", blockValue("openIdClientCredentialsAuth", "clientSecret"), "openIdClientCredentialsAuth.clientSecret");
    set("armada-oidc-scopes", scopes("openIdClientCredentialsAuth"), "openIdClientCredentialsAuth.scopes");
  } else if (blockValue("openIdKubernetesAuth", "providerUrl")) {
    // armadactl posts to this fixed path, without discovery, with the pod's default token.
    set(
      "armada-oidc-token-url",
      `${(blockValue("openIdKubernetesAuth", "providerUrl") ?? "").replace(/\/$/, "")}/connect/token`,
      "openIdKubernetesAuth.providerUrl",
    );
    set("armada-oidc-client-id", blockValue("openIdKubernetesAuth", "clientId"), "openIdKubernetesAuth.clientId");
    set("armada-oidc-scopes", scopes("openIdKubernetesAuth"), "openIdKubernetesAuth.scopes");
    set("armada-oidc-assertion-file", SERVICE_ACCOUNT_TOKEN, "openIdKubernetesAuth");
  } else if (blockValue("execAuth", "cmd")) {
    set("armada-exec-command", blockValue("execAuth", "cmd"), "execAuth.cmd");
    const args = field(block("execAuth"), "args");
    if (args !== undefined)
      set("armada-exec-args", JSON.stringify(Array.isArray(args) ? args.map((a) => scalar(a) ?? "") : [scalar(args) ?? ""]), "execAuth.args");
    const env = field(block("execAuth"), "env");
    if (Array.isArray(env)) {
      const pairs = env.map((entry) => [scalar(field(entry, "name")) ?? "", scalar(field(entry, "value")) ?? ""] as const);
      const unnamed = pairs.findIndex(([name]) => name === "");
      if (unnamed >= 0) authProblems.push(`${config}: ${prefix}execAuth.env[${unnamed}] in ${source.file} has no name`);
      else if (pairs.length > 0) set("armada-exec-env", JSON.stringify(Object.fromEntries(pairs)), "execAuth.env");
    } else if (env !== undefined) {
      authProblems.push(`${config}: ${prefix}execAuth.env in ${source.file} should be a list of {name, value}`);
    }
  }
  return result();
}
