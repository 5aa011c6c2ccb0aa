import { ASYMMETRIC_ALGORITHMS, type OidcOptions } from "../auth/options.js";
import { integer, list, nonEmpty, url, type Parse } from "./parse.js";
import { defaultText, type SettingFlag } from "./settings.js";

/**
 * Settings as a loader reads them: the values given (by flag name; absent
 * means unset), each parsed on demand with any problem recorded under the
 * setting's name, so that every mistake is reported at once. Node-free: the
 * service's loader and the edge entry both read with it.
 */
export interface SettingReader {
  readonly raw: ReadonlyMap<SettingFlag, string>;
  readonly problems: string[];
  /** How a setting is named in problems: `JOBSERVICE_X (--x)` for the service, the variable alone at the edge. */
  name(flag: SettingFlag): string;
  /** The parsed value, or undefined when unset or unparseable (the problem is recorded). */
  get<T>(flag: SettingFlag, parse: Parse<T>): T | undefined;
  /** The parsed value, or the table's default when unset or unparseable (the problem is recorded). */
  value<T>(flag: SettingFlag, parse: Parse<T>): T;
}

export function settingReader(raw: ReadonlyMap<SettingFlag, string>, name: (flag: SettingFlag) => string, problems: string[]): SettingReader {
  const get = <T>(flag: SettingFlag, parse: Parse<T>): T | undefined => {
    const value = raw.get(flag);
    if (value === undefined) return undefined;
    try {
      return parse(value);
    } catch (error) {
      problems.push(`${name(flag)}: ${(error as Error).message}`);
      return undefined;
    }
  };
  return {
    raw,
    problems,
    name,
    get,
    value: (flag, parse) => get(flag, parse) ?? parse(defaultText(flag)),
  };
}

export const OIDC_FLAGS: readonly SettingFlag[] = [
  "oidc-issuer",
  "oidc-audience",
  "oidc-algorithms",
  "oidc-leeway-seconds",
  "oidc-username-claim",
  "oidc-groups-claim",
];

/** Problems for settings given that only `modes` of JOBSERVICE_AUTH use. */
export function onlyWith(reader: SettingReader, mode: string, flags: readonly SettingFlag[], modes: readonly string[]): void {
  for (const flag of flags) {
    if (reader.raw.has(flag) && !modes.includes(mode))
      reader.problems.push(`${reader.name(flag)}: only used with ${reader.name("auth")} ${modes.join(" or ")}, not ${mode}`);
  }
}

/** A problem unless the setting is given, as JOBSERVICE_AUTH `mode` needs it. */
export function requireFor(reader: SettingReader, mode: string, flag: SettingFlag): void {
  if (!reader.raw.has(flag)) reader.problems.push(`${reader.name(flag)}: required with ${reader.name("auth")} ${mode}`);
}

/** JOBSERVICE_AUTH=oidc's settings, checked. */
export function oidcOptions(reader: SettingReader): OidcOptions {
  requireFor(reader, "oidc", "oidc-issuer");
  requireFor(reader, "oidc", "oidc-audience");
  const issuer = reader.get("oidc-issuer", url(["http:", "https:"]));
  const algorithms = reader.value("oidc-algorithms", list);
  const unsafe = algorithms.filter((alg) => !ASYMMETRIC_ALGORITHMS.includes(alg));
  if (unsafe.length > 0 || algorithms.length === 0) {
    reader.problems.push(
      `${reader.name("oidc-algorithms")}: expected asymmetric JWS algorithms (${ASYMMETRIC_ALGORITHMS.join(", ")}), got ${unsafe.join(", ") || "none"}`,
    );
  }
  return {
    // As given, not normalised by URL: tokens must carry exactly this `iss`.
    issuer: issuer ? (reader.raw.get("oidc-issuer") ?? "") : "",
    audience: reader.raw.get("oidc-audience") ?? "",
    algorithms,
    leewaySeconds: reader.value("oidc-leeway-seconds", integer(0, 600)),
    usernameClaim: reader.value("oidc-username-claim", nonEmpty),
    groupsClaim: reader.value("oidc-groups-claim", nonEmpty),
  };
}
