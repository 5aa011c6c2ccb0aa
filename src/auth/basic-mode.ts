import bcrypt from "bcryptjs";
import { parseAuthorization } from "./credential.js";
import { createDecisionCache } from "./decision-cache.js";
import type { Digest } from "./digest.js";
import { unauthenticated, type Identity } from "./identity.js";
import type { UserEntry } from "./users-file.js";
import type { Versioned } from "./versioned.js";

/** Proves who a caller is; what it may watch is decided elsewhere. */
export type Authenticate = (authorization: string | null) => Promise<Identity>;

export interface BasicModeDeps {
  readonly users: Versioned<ReadonlyMap<string, UserEntry>>;
  readonly digest: Digest;
  readonly now: () => number;
  /** How long a verified password is not re-hashed; also bounds how long a changed file takes to bite. */
  readonly verifiedTtlMs: number;
  readonly failedTtlMs: number;
}

/** Compared against when the user is unknown, so that timing does not tell which users exist. */
let dummyHash: string | undefined;

/**
 * `JOBSERVICE_AUTH=basic`: `authorization: basic <base64(user:password)>`,
 * checked against bcrypt hashes. bcrypt is slow on purpose, so verdicts are
 * cached by the keyed digest of the header and the file's version: a poller
 * is hashed once per period, and an edit to the file takes effect at once.
 */
export function basicAuthenticate(deps: BasicModeDeps): Authenticate {
  const cache = createDecisionCache<Identity>({
    now: deps.now,
    maxEntries: 100_000,
    ttlMs: (outcome) => (outcome.ok ? deps.verifiedTtlMs : deps.failedTtlMs),
  });
  return async (authorization) => {
    const credential = parseAuthorization(authorization);
    if (credential.kind === "missing") {
      throw unauthenticated("authorization required: send `authorization: basic <base64(user:password)>`");
    }
    if (credential.kind !== "basic") throw unauthenticated("authorization must be `basic <base64(user:password)>`");
    const version = deps.users.version();
    return cache.get(`${version} ${await deps.digest(credential.raw)}`, async () => {
      const entry = deps.users.current().get(credential.user);
      const matches = await bcrypt.compare(credential.password, entry?.hash ?? (dummyHash ??= bcrypt.hashSync("not a password anyone has", 10)));
      if (!entry || !matches) throw unauthenticated("user name or password not accepted");
      return { principal: credential.user, groups: entry.groups };
    });
  };
}
