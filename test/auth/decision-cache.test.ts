import { describe, expect, it } from "vitest";
import { createDecisionCache, type Settled } from "../../src/auth/decision-cache.js";

const TTL_MS = 60_000;

/** A cache on a clock the test moves, and a check whose answers the test hands out one by one. */
function setUp(ttlMs: (outcome: Settled<string>) => number = () => TTL_MS) {
  let now = 0;
  const cache = createDecisionCache<string>({ now: () => now, ttlMs, maxEntries: 100 });
  const asked: { resolve: (value: string) => void; reject: (error: unknown) => void }[] = [];
  const check = (): Promise<string> => new Promise((resolve, reject) => asked.push({ resolve, reject }));
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { cache, asked, check, settle, at: (ms: number) => (now = ms) };
}

describe("a decision cache", () => {
  it("checks once for concurrent callers and reuses the outcome for its period", async () => {
    const { cache, asked, check, at } = setUp();
    const first = Promise.all([cache.get("alice", check), cache.get("alice", check)]);
    expect(asked).toHaveLength(1);
    asked[0]!.resolve("allowed");
    expect(await first).toEqual(["allowed", "allowed"]);
    at(TTL_MS / 2);
    expect(await cache.get("alice", check)).toBe("allowed");
    expect(asked).toHaveLength(1);
  });

  it("checks again in the background in the last quarter of the period, and callers do not wait for it", async () => {
    const { cache, asked, check, settle, at } = setUp();
    const first = cache.get("alice", check);
    asked[0]!.resolve("allowed");
    await first;
    at(TTL_MS * 0.8);
    expect(await cache.get("alice", check)).toBe("allowed");
    expect(asked).toHaveLength(2);
    // Still the old outcome while the check runs, and no second refresh.
    expect(await cache.get("alice", check)).toBe("allowed");
    expect(asked).toHaveLength(2);
    asked[1]!.resolve("allowed again");
    await settle();
    at(TTL_MS * 1.5);
    expect(await cache.get("alice", check)).toBe("allowed again");
    expect(asked).toHaveLength(2);
  });

  it("lets a refresh's refusal replace the allowed outcome at once", async () => {
    const { cache, asked, check, settle, at } = setUp();
    const first = cache.get("carol", check);
    asked[0]!.resolve("allowed");
    await first;
    at(TTL_MS * 0.9);
    await cache.get("carol", check);
    asked[1]!.reject(new Error("revoked"));
    await settle();
    await expect(cache.get("carol", check)).rejects.toThrow("revoked");
  });

  it("never uses an outcome past its period, even when its refresh could not decide", async () => {
    // Outcomes that are errors are not kept (as "cannot tell" is not).
    const { cache, asked, check, settle, at } = setUp((outcome) => (outcome.ok ? TTL_MS : 0));
    const first = cache.get("dave", check);
    asked[0]!.resolve("allowed");
    await first;
    at(TTL_MS * 0.9);
    await cache.get("dave", check);
    asked[1]!.reject(new Error("Armada unreachable"));
    await settle();
    // The failed refresh is not repeated on every call while the outcome lasts.
    for (let i = 0; i < 5; i++) expect(await cache.get("dave", check)).toBe("allowed");
    expect(asked).toHaveLength(2);
    at(TTL_MS);
    const late = cache.get("dave", check);
    expect(asked).toHaveLength(3);
    asked[2]!.reject(new Error("Armada unreachable"));
    await expect(late).rejects.toThrow("Armada unreachable");
  });
});
