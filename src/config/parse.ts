/**
 * Value parsers for settings. Each throws an Error whose message says what
 * was expected; the loader prefixes the setting's name.
 */
export type Parse<T> = (raw: string) => T;

export function integer(min: number, max: number): Parse<number> {
  return (raw) => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
      throw new Error(`expected a whole number from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
}

export function oneOf<T extends string>(choices: readonly T[]): Parse<T> {
  return (raw) => {
    if (!(choices as readonly string[]).includes(raw)) throw new Error(`expected one of ${choices.join(", ")}, got "${raw}"`);
    return raw as T;
  };
}

export function nonEmpty(raw: string): string {
  if (raw.trim() === "") throw new Error("expected a non-empty value");
  return raw;
}

export function url(schemes: readonly string[]): Parse<URL> {
  return (raw) => {
    // armadactl and redis-cli write addresses as host:port; say which URL that would be rather than "not a URL".
    if (BARE_HOST_PORT.test(raw)) throw new Error(`expected a URL, got host:port without a scheme; did you mean ${suggestion(schemes, raw)}?`);
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new Error(`expected a URL (${schemes.map((s) => `${s}//…`).join(", ")}), got something that is not a URL`);
    }
    if (!schemes.includes(parsed.protocol)) {
      throw new Error(`expected a URL starting with ${schemes.map((s) => `${s}//`).join(" or ")}, got ${parsed.protocol}//…`);
    }
    if (parsed.host === "") {
      // `redis:/localhost` parses with the host name as a path, then fails far from here with ENOENT.
      const fixed = `${parsed.protocol}//${raw.slice(parsed.protocol.length).replace(/^\/*/, "")}`;
      throw new Error(`expected ${parsed.protocol}//host…, got no host; did you mean ${fixed}?`);
    }
    return parsed;
  };
}

const BARE_HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/** The first scheme on `address`, and its TLS twin when it has one (http → https, redis → rediss). */
function suggestion(schemes: readonly string[], address: string): string {
  const [first = "http:", ...rest] = schemes;
  const secure = `${first.slice(0, -1)}s:`;
  return rest.includes(secure) ? `${first}//${address} (or ${secure}//${address} for TLS)` : `${first}//${address}`;
}

export function list(raw: string): string[] {
  return raw
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item !== "");
}
