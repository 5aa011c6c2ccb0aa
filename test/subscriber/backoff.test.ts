import { describe, expect, it } from "vitest";
import { retryDelayMs } from "../../src/subscriber/backoff.js";

const policy = { minMs: 100, maxMs: 1_000, slowMs: 30_000 };

describe("retry delays", () => {
  it("double from the minimum and stop at the maximum", () => {
    const highest = (attempt: number): number => retryDelayMs(policy, attempt, false, () => 1);
    expect([0, 1, 2, 3, 4, 10, 5_000].map(highest)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it("are scattered over the upper half of the interval", () => {
    expect(retryDelayMs(policy, 2, false, () => 0)).toBe(200);
    expect(retryDelayMs(policy, 2, false, () => 0.5)).toBe(300);
  });

  it("use the slow interval for failures retrying cannot fix, whatever the attempt", () => {
    expect(retryDelayMs(policy, 0, true, () => 1)).toBe(30_000);
    expect(retryDelayMs(policy, 0, true, () => 0)).toBe(15_000);
  });
});
