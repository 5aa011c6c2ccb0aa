/**
 * A small seeded pseudo-random generator (mulberry32). Scenarios must replay
 * identically from a seed, which Math.random cannot do.
 */
export interface Prng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** A 32-bit unsigned integer, for seeding child generators. */
  uint32(): number;
}

export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  const uint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const next = (): number => uint32() / 4294967296;
  return {
    next,
    uint32,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    // chance(0) never fires and chance(1) always does, whatever next() returns.
    chance: (p) => p > 0 && next() < p,
  };
}
