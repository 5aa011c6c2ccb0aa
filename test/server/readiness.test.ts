import { describe, expect, it } from "vitest";
import { createReadiness } from "../../src/server/readiness.js";

describe("readiness", () => {
  it("is ready when every dependency answers", async () => {
    const check = createReadiness([{ name: "store", probe: async () => undefined }], { timeoutMs: 100, cacheMs: 0 });
    expect(await check()).toEqual({ ready: true, checks: { store: { ok: true } } });
  });

  it("names the failing dependency and its reason", async () => {
    const check = createReadiness(
      [
        { name: "store", probe: async () => undefined },
        { name: "armada", probe: async () => Promise.reject(new Error("connection refused")) },
      ],
      { timeoutMs: 100, cacheMs: 0 },
    );
    expect(await check()).toEqual({ ready: false, checks: { store: { ok: true }, armada: { ok: false, error: "connection refused" } } });
  });

  it("gives up on a dependency that never answers, and aborts its probe", async () => {
    let aborted = false;
    const hang = (signal: AbortSignal) => new Promise<void>(() => signal.addEventListener("abort", () => (aborted = true)));
    const check = createReadiness([{ name: "armada", probe: hang }], { timeoutMs: 30, cacheMs: 0 });
    expect(await check()).toEqual({ ready: false, checks: { armada: { ok: false, error: "no answer within 30 ms" } } });
    expect(aborted).toBe(true);
  });

  it("shares one round of probes among callers within the cache window", async () => {
    let probes = 0;
    let clock = 0;
    const check = createReadiness([{ name: "store", probe: async () => void probes++ }], { timeoutMs: 100, cacheMs: 1000, now: () => clock });
    await Promise.all([check(), check(), check()]);
    expect(probes).toBe(1);
    clock = 1500;
    await check();
    expect(probes).toBe(2);
  });
});
