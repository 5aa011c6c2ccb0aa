import { describe, expect, it } from "vitest";
import { createRecentErrors } from "../../src/status-page/recent-errors.js";
import { createRateMeter } from "../../src/status-page/rates.js";

describe("the recent errors list", () => {
  it("lists distinct errors newest first, counting repeats of one error as one entry", () => {
    let now = 1000;
    const errors = createRecentErrors(10, () => now);
    errors.record({ source: "armada", message: "down", queue: "q", jobSetId: "a" });
    now = 2000;
    errors.record({ source: "store", message: "refused" });
    now = 3000;
    errors.record({ source: "armada", message: "down", queue: "q", jobSetId: "a" });
    expect(errors.list()).toEqual([
      { source: "armada", message: "down", queue: "q", jobSetId: "a", firstAt: 1000, lastAt: 3000, count: 2 },
      { source: "store", message: "refused", firstAt: 2000, lastAt: 2000, count: 1 },
    ]);
  });

  it("keeps at most its capacity, dropping the oldest", () => {
    const errors = createRecentErrors(3);
    for (let i = 0; i < 1000; i++) errors.record({ source: "armada", message: `failure ${i}` });
    expect(errors.list().map((e) => e.message)).toEqual(["failure 999", "failure 998", "failure 997"]);
  });
});

describe("a rate from a counter read at irregular times", () => {
  it("is unknown until two readings are far enough apart", () => {
    const meter = createRateMeter(10_000);
    meter.add({ at: 0, total: 5 });
    expect(meter.perSecond()).toBeUndefined();
    meter.add({ at: 100, total: 6 });
    expect(meter.perSecond()).toBeUndefined();
    meter.add({ at: 2000, total: 25 });
    expect(meter.perSecond()).toBe(10);
  });

  it("covers about the last window, not the whole history", () => {
    const meter = createRateMeter(10_000);
    meter.add({ at: 0, total: 0 });
    meter.add({ at: 50_000, total: 1000 });
    // Nothing for 50 s, then 1000 events in the last 10 s of readings: the window holds only the recent span.
    meter.add({ at: 60_000, total: 2000 });
    expect(meter.perSecond()).toBe(100);
  });

  it("is never negative when a counter was reset", () => {
    const meter = createRateMeter(10_000);
    meter.add({ at: 0, total: 500 });
    meter.add({ at: 1000, total: 3 });
    expect(meter.perSecond()).toBe(0);
  });
});
