import { describe, expect, it } from "vitest";
import { createConcurrencyLimit, type Release } from "../../src/armada/concurrency-limit.js";

const never = new AbortController().signal;

describe("a concurrency limit", () => {
  it("grants up to its limit at once and makes the rest wait", async () => {
    const limit = createConcurrencyLimit(2);
    await limit.acquire(never);
    await limit.acquire(never);
    let third = false;
    void limit.acquire(never).then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
    expect({ active: limit.active(), waiting: limit.waiting() }).toEqual({ active: 2, waiting: 1 });
  });

  it("hands a released slot to the longest waiting caller, before any newcomer", async () => {
    const limit = createConcurrencyLimit(1);
    const first = await limit.acquire(never);
    const order: string[] = [];
    const second = limit.acquire(never).then((release) => (order.push("second"), release));
    const third = limit.acquire(never).then((release) => (order.push("third"), release));
    first();
    const newcomer = limit.acquire(never).then((release) => (order.push("newcomer"), release));
    (await second)();
    (await third)();
    (await newcomer)();
    expect(order).toEqual(["second", "third", "newcomer"]);
    expect(limit.active()).toBe(0);
  });

  it("keeps a woken waiter's slot for it: a caller arriving before it resumes waits, and the limit is never exceeded", async () => {
    const limit = createConcurrencyLimit(1);
    const first = await limit.acquire(never);
    let woken = false;
    const waiter = limit.acquire(never).then((release) => ((woken = true), release));
    first();
    // The waiter has been handed the slot but has not run yet; a newcomer arrives in between.
    expect(woken).toBe(false);
    let newcomerIn = false;
    const newcomer = limit.acquire(never).then((release) => ((newcomerIn = true), release));
    expect({ active: limit.active(), waiting: limit.waiting() }).toEqual({ active: 1, waiting: 1 });
    const release = await waiter;
    expect(newcomerIn).toBe(false);
    release();
    (await newcomer)();
    expect(limit.active()).toBe(0);
  });

  it("counts a slot released twice only once", async () => {
    const limit = createConcurrencyLimit(1);
    const release = await limit.acquire(never);
    release();
    release();
    const again = await limit.acquire(never);
    expect(limit.active()).toBe(1);
    let other = false;
    void limit.acquire(never).then(() => (other = true));
    await Promise.resolve();
    expect(other).toBe(false);
    again();
  });

  it("lets a waiting caller give up: it is rejected with the abort reason and takes no slot", async () => {
    const limit = createConcurrencyLimit(1);
    const held = await limit.acquire(never);
    const giveUp = new AbortController();
    const abandoned = limit.acquire(giveUp.signal);
    const next = limit.acquire(never);
    giveUp.abort(new Error("stopped"));
    await expect(abandoned).rejects.toThrow("stopped");
    expect(limit.waiting()).toBe(1);
    held();
    const release: Release = await next;
    expect(limit.active()).toBe(1);
    release();
    expect(limit.active()).toBe(0);
  });

  it("refuses a caller whose signal has already aborted", async () => {
    const limit = createConcurrencyLimit(1);
    await expect(limit.acquire(AbortSignal.abort(new Error("too late")))).rejects.toThrow("too late");
    expect(limit.active()).toBe(0);
  });
});
