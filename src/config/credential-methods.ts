import { readFileSync } from "node:fs";
import { readArmadactlConfig } from "./armadactl-config.js";
import type { SettingFlag } from "./settings.js";

/** The settings that choose each way of authenticating to Armada: giving any of them picks the method. */
export const CREDENTIAL_METHODS = {
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

export function methodsIn(values: ReadonlyMap<SettingFlag, string>): Array<[Method, SettingFlag[]]> {
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
export function withArmadactlConfig(
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
