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
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new Error(`expected a URL (${schemes.map((s) => `${s}//…`).join(", ")}), got something that is not a URL`);
    }
    if (!schemes.includes(parsed.protocol)) {
      throw new Error(`expected a URL starting with ${schemes.map((s) => `${s}//`).join(" or ")}, got ${parsed.protocol}//…`);
    }
    return parsed;
  };
}

export function list(raw: string): string[] {
  return raw
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item !== "");
}
