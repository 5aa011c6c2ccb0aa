import { describe, expect, it } from "vitest";
import { createPrng } from "../../src/simulator/prng.js";
import { createUlidGenerator, ULID_PATTERN } from "../../src/simulator/ulid.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const timeOf = (ulid: string) => [...ulid.slice(0, 10)].reduce((ms, char) => ms * 32 + CROCKFORD.indexOf(char), 0);

describe("ULIDs", () => {
  it("are 26 Crockford base32 characters that start with the millisecond time", () => {
    const ulid = createUlidGenerator(createPrng(1))(1_767_225_600_123);
    expect(ulid).toMatch(ULID_PATTERN);
    expect(timeOf(ulid)).toBe(1_767_225_600_123);
  });

  it("sort in creation order, within a millisecond and when the clock steps back", () => {
    const next = createUlidGenerator(createPrng(2));
    const ids = [next(1000), next(1000), next(1000), next(999), next(1001)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("repeat under the same seed and differ under another", () => {
    const make = (seed: number) => [1, 2, 3].map(createUlidGenerator(createPrng(seed)));
    expect(make(5)).toEqual(make(5));
    expect(make(5)).not.toEqual(make(6));
  });
});
