import { basicAuthenticate, type Authenticate } from "../auth/basic-mode.js";
import { createWebDigest } from "../auth/digest.js";
import type { QueueCheck } from "../auth/identity.js";
import { oidcAuthenticate } from "../auth/oidc.js";
import { AUTH_MODES, AUTH_TUNING } from "../auth/options.js";
import { FileProblem, parsePermissions, type Permissions } from "../auth/permissions.js";
import { authenticatedCheck, permittedBy } from "../auth/permitted.js";
import { parseUsers } from "../auth/users-file.js";
import { fixed, type Versioned } from "../auth/versioned.js";
import { integer, oneOf } from "../config/parse.js";
import { OIDC_FLAGS, oidcOptions, onlyWith, settingReader } from "../config/setting-reader.js";
import { SETTINGS, type SettingFlag } from "../config/settings.js";

/** Settings by name, as the Worker's bindings or the environment hold them. */
export type Vars = Readonly<Record<string, string | undefined>>;

/** basic at the edge: the users file's contents (the edge has no files). */
export const EDGE_USERS = "JOBSERVICE_EDGE_USERS";
/** oidc and basic at the edge: the permissions file's contents. */
export const EDGE_PERMISSIONS = "JOBSERVICE_EDGE_PERMISSIONS";

/** The service's settings the edge reads, by the same names. */
const READ: readonly SettingFlag[] = ["auth", "auth-cache-seconds", ...OIDC_FLAGS, "users-file", "permissions-file"];

/**
 * The caller check the edge's settings ask for, by the service's rules and
 * setting names: JOBSERVICE_AUTH `none` (the default) checks nothing, `oidc`
 * verifies JWTs against the issuer's keys, `basic` checks bcrypt hashes, and
 * both then ask the permissions. `armada` is refused: the edge cannot reach
 * Armada. Throws one Error listing every problem, each naming its setting
 * and repeating no secret.
 */
export function edgeCallerCheck(vars: Vars, now: () => number = Date.now): QueueCheck | undefined {
  const raw = new Map<SettingFlag, string>();
  for (const flag of READ) {
    const value = vars[envOf(flag)];
    if (value !== undefined && value !== "") raw.set(flag, value);
  }
  const problems: string[] = [];
  const reader = settingReader(raw, envOf, problems);
  const mode = reader.value("auth", oneOf(AUTH_MODES));
  onlyWith(reader, mode, OIDC_FLAGS, ["oidc"]);
  onlyWith(reader, mode, ["auth-cache-seconds"], ["basic"]);
  for (const [flag, instead] of [
    ["users-file", EDGE_USERS],
    ["permissions-file", EDGE_PERMISSIONS],
  ] as const) {
    if (raw.has(flag)) problems.push(`${envOf(flag)}: the edge entry reads no files; give the file's contents in ${instead}`);
  }
  const given = (name: string): string | undefined => (vars[name] ? vars[name] : undefined);
  for (const [name, modes] of [
    [EDGE_USERS, ["basic"]],
    [EDGE_PERMISSIONS, ["oidc", "basic"]],
  ] as const) {
    if (given(name) !== undefined && !(modes as readonly string[]).includes(mode))
      problems.push(`${name}: only used with JOBSERVICE_AUTH ${modes.join(" or ")}, not ${mode}`);
  }
  const contents = <T>(name: string, parse: (text: string) => T): T | undefined => {
    const text = given(name);
    if (text === undefined) {
      problems.push(`${name}: required with JOBSERVICE_AUTH ${mode}`);
      return undefined;
    }
    try {
      return parse(text);
    } catch (error) {
      if (!(error instanceof FileProblem)) throw error;
      problems.push(`${name} ${error.message}`);
      return undefined;
    }
  };

  let authenticate: Authenticate | undefined;
  let permissions: Versioned<Permissions> | undefined;
  switch (mode) {
    case "none":
      break;
    case "armada":
      problems.push(
        `${envOf("auth")}: armada is not available at the edge entry, which cannot reach Armada to ask it; use oidc or basic (or none behind the platform's own access control)`,
      );
      break;
    case "oidc":
    case "basic": {
      const parsed = contents(EDGE_PERMISSIONS, parsePermissions);
      permissions = parsed && fixed(parsed);
      if (mode === "oidc") {
        const options = oidcOptions(reader);
        authenticate = oidcAuthenticate(options, {
          jwksCooldownMs: AUTH_TUNING.jwksCooldownMs,
          fetchTimeoutMs: AUTH_TUNING.armadaTimeoutMs,
          discoveryRetryMs: 1_000,
          now,
        });
      } else {
        const users = contents(EDGE_USERS, parseUsers);
        const cacheSeconds = reader.value("auth-cache-seconds", integer(0, 86_400));
        authenticate =
          users &&
          basicAuthenticate({ users: fixed(users), digest: createWebDigest(), now, verifiedTtlMs: cacheSeconds * 1000, failedTtlMs: AUTH_TUNING.deniedTtlMs });
      }
      break;
    }
  }
  if (problems.length > 0) throw new Error(`invalid edge configuration:\n  ${problems.join("\n  ")}`);
  return authenticate && authenticatedCheck(authenticate, permittedBy(permissions));
}

function envOf(flag: SettingFlag): string {
  return (SETTINGS.find((setting) => setting.flag === flag) as { env: string }).env;
}
