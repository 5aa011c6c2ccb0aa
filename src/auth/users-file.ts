import { FileProblem } from "./permissions.js";

export interface UserEntry {
  readonly hash: string;
  readonly groups: readonly string[];
}

/**
 * Parses JOBSERVICE_USERS_FILE: htpasswd lines made with `htpasswd -B`
 * (bcrypt), optionally followed by a colon and the user's groups, separated
 * by commas. Blank lines and lines starting with `#` are ignored.
 *
 *     alice:$2y$10$…
 *     airflow:$2y$10$…:data-eng,etl
 *
 * Other htpasswd hashes (MD5, SHA-1, crypt) are refused: they are too weak to
 * keep. Throws a FileProblem naming the line; never echoes a hash.
 */
export function parseUsers(text: string): Map<string, UserEntry> {
  const users = new Map<string, UserEntry>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    const number = index + 1;
    if (line === "" || line.startsWith("#")) return;
    const [user = "", hash = "", groups = "", ...extra] = line.split(":");
    if (user === "" || hash === "") throw new FileProblem(number, "expected user:bcrypt-hash[:group,group…]");
    if (extra.length > 0) throw new FileProblem(number, `user "${user}" has more fields than user:hash:groups`);
    if (!/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/.test(hash)) {
      throw new FileProblem(number, `user "${user}" has no bcrypt hash (make one with htpasswd -B, or bcrypt's $2a$/$2b$/$2y$ format)`);
    }
    if (users.has(user)) throw new FileProblem(number, `user "${user}" is listed twice`);
    users.set(user, {
      hash,
      groups: groups
        .split(",")
        .map((g) => g.trim())
        .filter((g) => g !== ""),
    });
  });
  return users;
}
