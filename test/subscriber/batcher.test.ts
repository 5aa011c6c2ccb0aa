import { describe, expect, it, vi } from "vitest";
import { createMetricsRegistry } from "../../src/observability/metrics.js";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { JobStore } from "../../src/store/store.js";
import { createBatcher, type StoredProgress } from "../../src/subscriber/batcher.js";
import { createSubscriberMetrics } from "../../src/subscriber/metrics.js";
import { withWriteFaults } from "./harness.js";
import { JOB_SET, QUEUE, event, messageId, streamMessage } from "./event-builders.js";

const jobSet = { queue: QUEUE, jobSetId: JOB_SET };
const T0 = 1_700_000_000_000;

function recordingStore(failWrites: ReadonlySet<number> = new Set()) {
  return withWriteFaults(createMemoryStore({ ttlSeconds: 60 }), failWrites);
}

function batcherOn(
  store: JobStore,
  start: StoredProgress = { cursor: "", caughtUp: false, stored: false },
  maxEvents = 50,
  maxDelayMs = 5,
  fence = 1,
  onUnawaitedFailure?: (err: unknown) => void,
) {
  const metrics = createSubscriberMetrics(createMetricsRegistry({ processMetrics: false }), () => ({
    owned: 0,
    followed: 0,
    failing: new Map(),
    secondsSinceLastEvent: [],
  }));
  return createBatcher({
    store,
    jobSet,
    start,
    maxEvents,
    maxDelayMs,
    metrics,
    now: () => T0,
    fence: () => fence,
    ...(onUnawaitedFailure && { onUnawaitedFailure }),
  });
}

/** A burst of `jobs` jobs each going submitted → queued → leased → running, in stream order. */
function burst(jobs: number) {
  const cases = ["submitted", "queued", "leased", "running"] as const;
  const messages = [];
  let n = 0;
  for (const eventCase of cases) for (let j = 0; j < jobs; j++) messages.push(streamMessage(++n, event(eventCase, `job-${j}`, T0 + n)));
  return messages;
}

describe("writing events in batches", () => {
  it("a live burst costs one write per full batch and the rest after a short delay, reading only jobs it has not seen", async () => {
    const { store, writes, reads } = recordingStore();
    const batcher = batcherOn(store, { cursor: "", caughtUp: true, stored: false });
    for (const message of burst(30)) await batcher.add([message]);
    expect(writes).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(writes).toHaveLength(3);
    // The first batch reads its 30 jobs; later batches are about the same jobs, whose records the batcher wrote.
    expect(reads()).toBe(1);
    expect(batcher.progress().cursor).toBe(messageId(120));
    const stored = await store.read({ ...jobSet, jobId: "job-29" });
    expect(stored.job).toMatchObject({ state: State.RUNNING, runAttempts: 1 });
    expect(stored.progress).toEqual({ cursor: messageId(120), caughtUp: true, error: "", updatedAt: T0 });
  });

  it("writes what arrives together in writes of at most the batch size", async () => {
    const { store, writes } = recordingStore();
    const batcher = batcherOn(store);
    await batcher.add(burst(30));
    // 120 events with a batch size of 50: two full writes now, the last 20 with the flush.
    expect(writes.map((w) => w.progress.cursor)).toEqual([messageId(50), messageId(100)]);
    await batcher.flush(true);
    expect(writes.map((w) => [w.progress.cursor, w.progress.caughtUp])).toEqual([
      [messageId(50), false],
      [messageId(100), false],
      [messageId(120), true],
    ]);
  });

  it("while replaying history, writes only full batches and leaves the rest to the final flush", async () => {
    const { store, writes } = recordingStore();
    const batcher = batcherOn(store);
    for (const message of burst(30)) await batcher.add([message]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(writes).toHaveLength(2);
    expect(batcher.progress()).toEqual({ cursor: messageId(100), caughtUp: false, stored: true });
    await batcher.flush(true);
    expect(writes).toHaveLength(3);
    expect(batcher.progress()).toEqual({ cursor: messageId(120), caughtUp: true, stored: true });
  });

  it("writes the cursor with the states it covers, in the same atomic write", async () => {
    const { store, writes } = recordingStore();
    const batcher = batcherOn(store, { cursor: "", caughtUp: false, stored: false }, 2);
    await batcher.add([streamMessage(1, event("queued", "a", T0))]);
    await batcher.add([streamMessage(2, event("running", "a", T0))]);
    expect(writes[0]?.progress.cursor).toBe(messageId(2));
    expect(writes[0]?.jobs.get("a")?.messageId).toBe(messageId(2));
  });

  it("flush(true) marks the job set caught up even with nothing queued, and clears a recorded failure", async () => {
    const { store } = recordingStore();
    const batcher = batcherOn(store, { cursor: messageId(4), caughtUp: false, stored: false });
    await batcher.fail("Armada event stream failed: UNAVAILABLE: gone");
    expect((await store.read({ ...jobSet, jobId: "x" })).progress).toMatchObject({
      cursor: messageId(4),
      error: "Armada event stream failed: UNAVAILABLE: gone",
    });
    await batcher.flush(true);
    expect((await store.read({ ...jobSet, jobId: "x" })).progress).toMatchObject({ cursor: messageId(4), caughtUp: true, error: "" });
  });

  it("after a failed write, nothing more is applied and the cursor stays where the store has it", async () => {
    const { store } = recordingStore(new Set([1]));
    const batcher = batcherOn(store, { cursor: "", caughtUp: false, stored: false }, 2);
    await batcher.add([streamMessage(1, event("queued", "a", T0))]);
    await expect(batcher.add([streamMessage(2, event("running", "a", T0))])).rejects.toThrow("write 1 refused");
    await expect(batcher.add([streamMessage(3, event("succeeded", "a", T0))])).rejects.toThrow("write 1 refused");
    expect(batcher.progress().cursor).toBe("");
    expect((await store.read({ ...jobSet, jobId: "a" })).job).toBeUndefined();

    // The failure is still recorded, without the events that no longer follow the stored cursor.
    await batcher.fail("store write failed: write 1 refused");
    const stored = await store.read({ ...jobSet, jobId: "a" });
    expect(stored.job).toBeUndefined();
    expect(stored.progress).toMatchObject({ cursor: "", error: "store write failed: write 1 refused" });
  });

  it("a failed timed write is reported by the next add", async () => {
    const { store } = recordingStore(new Set([1]));
    const batcher = batcherOn(store, { cursor: "", caughtUp: true, stored: false }, 100, 1);
    await batcher.add([streamMessage(1, event("queued", "a", T0))]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await expect(batcher.add([streamMessage(2, event("running", "a", T0))])).rejects.toThrow("write 1 refused");
  });

  it("a failed timed write is told at once, so a quiet stream with no next add still hears of it", async () => {
    vi.useFakeTimers();
    try {
      const { store } = recordingStore(new Set([1]));
      const told: unknown[] = [];
      const batcher = batcherOn(store, { cursor: "", caughtUp: true, stored: false }, 100, 50, 1, (err) => told.push(err));
      await batcher.add([streamMessage(1, event("queued", "a", T0))]);
      expect(told).toEqual([]);
      await vi.advanceTimersByTimeAsync(50);
      expect(told).toHaveLength(1);
      expect(String(told[0])).toContain("write 1 refused");
    } finally {
      vi.useRealTimers();
    }
  });

  it("tells whoever watches its writes the token each write carried, even when the lease moved on while it was under way", async () => {
    const memory = createMemoryStore({ ttlSeconds: 60 });
    let release!: () => void;
    const landing = new Promise<void>((resolve) => (release = resolve));
    const slow: JobStore = { ...memory, write: async (...args) => landing.then(() => memory.write(...args)) };
    let fence = 7;
    const settled: [string | undefined, number][] = [];
    let sent!: () => void;
    const sending = new Promise<void>((resolve) => (sent = resolve));
    const metrics = createSubscriberMetrics(createMetricsRegistry({ processMetrics: false }), () => ({
      owned: 0,
      followed: 0,
      failing: new Map(),
      secondsSinceLastEvent: [],
    }));
    const batcher = createBatcher({
      store: slow,
      jobSet,
      start: { cursor: "", caughtUp: true, stored: false },
      maxEvents: 1,
      maxDelayMs: 5,
      metrics,
      now: () => T0,
      fence: () => fence,
      onWrite: { sent, settled: (cursor, carried) => settled.push([cursor, carried]) },
    });
    const adding = batcher.add([streamMessage(1, event("queued", "a", T0))]);
    await sending;
    // The lease is lost (the replica no longer holds a token) before the write is answered.
    fence = 0;
    release();
    await adding;
    expect(settled).toEqual([[messageId(1), 7]]);
    await memory.close();
  });

  it("a write against a job set the store lost since is refused, and nothing of it is written", async () => {
    const memory = createMemoryStore({ ttlSeconds: 60 });
    const batcher = batcherOn(memory, { cursor: "", caughtUp: true, stored: false }, 2);
    await batcher.add([streamMessage(1, event("queued", "a", T0))]);
    await batcher.add([streamMessage(2, event("running", "a", T0))]);
    expect(batcher.progress()).toEqual({ cursor: messageId(2), caughtUp: true, stored: true });
    // Another writer of the same job set starts over, as a store restarted empty and then filled again would.
    await memory.write(
      jobSet,
      { jobs: new Map(), progress: { cursor: messageId(9), caughtUp: true, error: "", updatedAt: T0 } },
      { expected: messageId(2), fence: 1 },
    );
    await batcher.add([streamMessage(3, event("succeeded", "a", T0))]);
    await expect(batcher.add([streamMessage(4, event("queued", "b", T0))])).rejects.toMatchObject({ name: "WriteRefused", reason: "stale" });
    expect((await memory.read({ ...jobSet, jobId: "a" })).job?.state).toBe(State.RUNNING);
    expect((await memory.read({ ...jobSet, jobId: "b" })).progress?.cursor).toBe(messageId(9));
    await memory.close();
  });

  it("carries the lease's fencing token: a batcher of a replica whose lease was taken over is refused", async () => {
    const memory = createMemoryStore({ ttlSeconds: 60 });
    const stale = batcherOn(memory, { cursor: "", caughtUp: true, stored: false }, 1, 5, 10);
    await stale.add([streamMessage(1, event("queued", "a", T0))]);
    const owner = batcherOn(memory, { cursor: messageId(1), caughtUp: true, stored: true }, 1, 5, 11);
    await owner.add([streamMessage(2, event("running", "a", T0))]);
    await expect(stale.add([streamMessage(2, event("running", "a", T0))])).rejects.toMatchObject({ name: "WriteRefused", reason: "fenced" });
    expect((await memory.read({ ...jobSet, jobId: "a" })).progress?.cursor).toBe(messageId(2));
    await memory.close();
  });
});
