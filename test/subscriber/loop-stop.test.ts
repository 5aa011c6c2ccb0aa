import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createLoopStop } from "../../src/subscriber/loop-stop.js";

describe("a loop's stop", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const settled = (promise: Promise<void>): { readonly done: boolean } => {
    const state = { done: false };
    void promise.then(() => (state.done = true));
    return state;
  };

  it("sleeps for the time asked while the loop runs", async () => {
    const stop = createLoopStop();
    const sleeping = settled(stop.sleep(1_000));
    await vi.advanceTimersByTimeAsync(999);
    expect(sleeping.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(sleeping.done).toBe(true);
    expect(stop.stopped).toBe(false);
  });

  it("ends a sleep at once when stopped, and leaves no timer behind", async () => {
    const stop = createLoopStop();
    const sleeping = settled(stop.sleep(60_000));
    stop.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(sleeping.done).toBe(true);
    expect(stop.stopped).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("does not sleep once stopped", async () => {
    const stop = createLoopStop();
    stop.stop();
    const sleeping = settled(stop.sleep(60_000));
    await vi.advanceTimersByTimeAsync(0);
    expect(sleeping.done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("sleeps again after a sleep that ran its course", async () => {
    const stop = createLoopStop();
    await Promise.all([stop.sleep(10), vi.advanceTimersByTimeAsync(10)]);
    const second = settled(stop.sleep(10));
    await vi.advanceTimersByTimeAsync(5);
    expect(second.done).toBe(false);
    stop.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(second.done).toBe(true);
  });
});
