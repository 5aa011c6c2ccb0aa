import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { globMatcher } from "./glob.js";
import type { Identity } from "./identity.js";

/** Who may watch which queues, from JOBSERVICE_PERMISSIONS_FILE. */
export interface Permissions {
  mayWatch(identity: Identity, queue: string): boolean;
}

/** A problem in a permissions or users file, with the line it is on. */
export class FileProblem extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
    this.name = "FileProblem";
  }
}

type Matcher = (queue: string) => boolean;

/**
 * Parses a permissions file, YAML or JSON (JSON is YAML):
 *
 *     allQueues:            # like Armada's watch_all_events
 *       users: [ops]
 *       groups: [admins]
 *     users:
 *       alice: [team-a, "team-a-*"]
 *     groups:
 *       data-eng: ["etl-*"]
 *
 * Queue patterns match whole names; `*` is any run of characters, `?` one.
 * Throws a FileProblem naming the line of the first mistake.
 */
export function parsePermissions(text: string): Permissions {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lines.linePos(node.range[0]).line : 1);
  const firstError = doc.errors[0];
  if (firstError) throw new FileProblem(firstError.linePos?.[0]?.line ?? 1, firstError.message.split("\n")[0] ?? "not valid YAML");

  const root = doc.contents;
  const allUsers = new Set<string>();
  const allGroups = new Set<string>();
  const userGrants = new Map<string, Matcher[]>();
  const groupGrants = new Map<string, Matcher[]>();
  if (root === null || (isScalar(root) && (root.value === null || root.value === ""))) return build();
  if (!isMap(root)) throw new FileProblem(lineOf(root), "expected a mapping with allQueues, users and groups");

  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const value = pair.value as Node | null;
    const at = lineOf((pair.key as Node | null) ?? value);
    if (key === "allQueues") {
      if (value === null) continue;
      if (!isMap(value)) throw new FileProblem(lineOf(value), "allQueues must be a mapping with users and groups lists");
      for (const inner of value.items) {
        const which = isScalar(inner.key) ? String(inner.key.value) : "";
        if (which !== "users" && which !== "groups") throw new FileProblem(lineOf(inner.key as Node), `allQueues has users and groups, not "${which}"`);
        for (const name of names(inner.value as Node | null, `allQueues.${which}`)) (which === "users" ? allUsers : allGroups).add(name);
      }
    } else if (key === "users" || key === "groups") {
      if (value === null) continue;
      if (!isMap(value)) throw new FileProblem(lineOf(value), `${key} must map each name to a list of queue patterns`);
      for (const inner of value.items) {
        const name = isScalar(inner.key) ? String(inner.key.value) : "";
        if (name === "") throw new FileProblem(lineOf(inner.key as Node), `${key} needs a name before each list`);
        const patterns = names(inner.value as Node | null, `${key}.${name}`);
        (key === "users" ? userGrants : groupGrants).set(name, patterns.map(globMatcher));
      }
    } else {
      throw new FileProblem(at, `unknown key "${key}"; expected allQueues, users or groups`);
    }
  }
  return build();

  function names(node: Node | null, where: string): string[] {
    if (node === null) return [];
    if (!isSeq(node)) throw new FileProblem(lineOf(node), `${where} must be a list`);
    return node.items.map((item) => {
      const scalar = item as Node;
      if (!isScalar(scalar) || typeof scalar.value !== "string" || scalar.value === "") {
        throw new FileProblem(lineOf(scalar), `${where} must list non-empty names`);
      }
      return scalar.value;
    });
  }

  function build(): Permissions {
    return {
      mayWatch(identity, queue) {
        if (allUsers.has(identity.principal) || identity.groups.some((g) => allGroups.has(g))) return true;
        if (userGrants.get(identity.principal)?.some((match) => match(queue))) return true;
        return identity.groups.some((g) => groupGrants.get(g)?.some((match) => match(queue)));
      },
    };
  }
}
