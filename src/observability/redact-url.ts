/** A URL safe to log: user info and query strings can carry secrets. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.username || url.password) {
      url.username = url.username ? "redacted" : "";
      url.password = url.password ? "redacted" : "";
    }
    url.search = "";
    return url.toString();
  } catch {
    // Multi-host URLs (redis-cluster://a:1,b:2) are no WHATWG URLs: drop everything up to the last "@".
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(raw)?.[0];
    if (!scheme) return "[unparseable url]";
    const rest = raw.slice(scheme.length).split(/[?#]/)[0] ?? "";
    const hosts = rest.slice(rest.lastIndexOf("@") + 1);
    return `${scheme}${rest.includes("@") ? "redacted@" : ""}${hosts}`;
  }
}
