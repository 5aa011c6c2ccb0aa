/**
 * A queue pattern from the permissions file as a predicate: `*` matches any
 * run of characters (queue names have no separators), `?` exactly one, and
 * everything else itself.
 */
export function globMatcher(pattern: string): (name: string) => boolean {
  if (!/[*?]/.test(pattern)) return (name) => name === pattern;
  const source = pattern
    .split("")
    .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\/]/g, "\\$&")))
    .join("");
  const regex = new RegExp(`^${source}$`, "su");
  return (name) => regex.test(name);
}
