import type { Prng } from "./prng.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;

/**
 * ULIDs as Armada issues job ids: 26 Crockford base32 characters, 48 bits of
 * milliseconds then 80 random bits. Monotonic: within one millisecond (or if
 * the clock steps back) the random part is incremented, so ids sort in the
 * order they were made.
 */
export function createUlidGenerator(prng: Prng): (nowMs: number) => string {
  let lastTime = -1;
  let lastRandom: number[] = [];
  return (nowMs) => {
    const time = Math.max(Math.floor(nowMs), lastTime);
    if (time === lastTime) {
      lastRandom = increment(lastRandom);
    } else {
      lastTime = time;
      lastRandom = Array.from({ length: RANDOM_CHARS }, () => prng.int(0, 31));
    }
    return encodeTime(time) + lastRandom.map((digit) => CROCKFORD[digit]).join("");
  };
}

function encodeTime(ms: number): string {
  let rest = ms;
  let out = "";
  for (let i = 0; i < TIME_CHARS; i++) {
    out = CROCKFORD[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function increment(digits: readonly number[]): number[] {
  const out = [...digits];
  for (let i = out.length - 1; i >= 0; i--) {
    const digit = out[i] ?? 0;
    if (digit < 31) {
      out[i] = digit + 1;
      return out;
    }
    out[i] = 0;
  }
  throw new RangeError("ULID random part overflowed within one millisecond");
}

export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
