import { describe, expect, it } from "vitest";
import { createPrng } from "../../src/simulator/prng.js";

describe("the seeded generator", () => {
  it("replays the same sequence from the same seed", () => {
    const draw = (seed: number) => Array.from({ length: 5 }, createPrng(seed).next);
    expect(draw(3)).toEqual(draw(3));
    expect(draw(3)).not.toEqual(draw(4));
  });

  it("keeps integers within their inclusive bounds and reaches both ends", () => {
    const prng = createPrng(9);
    const seen = new Set(Array.from({ length: 500 }, () => prng.int(2, 5)));
    expect([...seen].sort()).toEqual([2, 3, 4, 5]);
  });

  it("never fires chance(0) and always fires chance(1)", () => {
    const prng = createPrng(11);
    const draws = Array.from({ length: 200 }, () => [prng.chance(0), prng.chance(1)]);
    expect(draws.every(([never, always]) => !never && always)).toBe(true);
  });
});
