import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/simulator/clock.js";

describe("the manual clock", () => {
  it("fires due timers in deadline order, ties in scheduling order, with now() at each deadline", () => {
    const clock = createManualClock(1000);
    const fired: string[] = [];
    clock.schedule(20, () => fired.push(`b@${clock.now()}`));
    clock.schedule(10, () => fired.push(`a@${clock.now()}`));
    clock.schedule(20, () => fired.push(`c@${clock.now()}`));
    clock.advance(15);
    expect(fired).toEqual(["a@1010"]);
    expect(clock.now()).toBe(1015);
    clock.advance(5);
    expect(fired).toEqual(["a@1010", "b@1020", "c@1020"]);
  });

  it("runs timers scheduled by timers within the same advance, and skips cancelled ones", () => {
    const clock = createManualClock(0);
    const fired: number[] = [];
    const cancel = clock.schedule(5, () => fired.push(-1));
    clock.schedule(1, () => clock.schedule(1, () => fired.push(clock.now())));
    cancel();
    clock.advance(10);
    expect(fired).toEqual([2]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("bounds runAll so a timer that reschedules itself forever cannot hang", () => {
    const clock = createManualClock(0);
    const again = (): void => void clock.schedule(1, again);
    again();
    expect(() => clock.runAll(100)).toThrow(/more than 100 timers/);
  });
});
