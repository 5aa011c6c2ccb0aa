// The registry's lease loop on fake time: what it does at each renewal (see
// fake-time-replica.ts). The same rules against Redis and the simulator, in
// real time, are in replicas.test.ts and lifecycle.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryStore } from "../../src/store/memory.js";
import type { JobStore } from "../../src/store/store.js";
import type { JobSetStatus } from "../../src/subscriber/registry.js";
import { closeReplicas, JOB_SET, pass, POLL_MS, RENEWAL_MS, replicaView, startReplica, TTL_MS } from "./fake-time-replica.js";

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(async () => {
  await closeReplicas();
  vi.useRealTimers();
});

describe("a replica's lease on a job set", () => {
  it("is taken at the first call and renewed every third of its lifetime while the job set is followed", async () => {
    const view = replicaView(createMemoryStore({ ttlSeconds: 3600 }));
    const replica = startReplica("a", view.store);
    const started = Date.now();
    replica.registry.touch(JOB_SET);
    await pass(0);
    expect(replica.role()).toBe("owner");
    expect(replica.liveStreams()).toBe(1);

    await pass(RENEWAL_MS - 1);
    expect(view.leaseCalls).toHaveLength(1);
    await pass(1);
    await pass(2 * RENEWAL_MS);
    expect(view.leaseCalls.map((at) => at - started)).toEqual([0, RENEWAL_MS, 2 * RENEWAL_MS, 3 * RENEWAL_MS]);
    expect(replica.liveStreams()).toBe(1);
  });

  it.each([
    ["the store fails", "cutOff"],
    ["another replica holds the lease", "heldElsewhere"],
  ] as const)("makes the replica stop streaming at the first renewal it cannot confirm: %s", async (_, change) => {
    const view = replicaView(createMemoryStore({ ttlSeconds: 3600 }));
    const replica = startReplica("a", view.store);
    const entry = replica.registry.touch(JOB_SET);
    await pass(0);
    expect(entry.fence).toBeGreaterThan(0);
    view[change]();

    await pass(RENEWAL_MS - 1);
    expect(replica.liveStreams()).toBe(1);
    await pass(1);
    expect(replica.liveStreams()).toBe(0);
    expect(replica.role()).toBe("follower");
    expect(entry.fence).toBe(0);
  });

  it("passes to another replica once the owner stops renewing, with never two streams at once", async () => {
    const shared = createMemoryStore({ ttlSeconds: 3600 });
    const a = replicaView(shared);
    const owner = startReplica("a", a.store);
    const follower = startReplica("b", shared);
    owner.registry.touch(JOB_SET);
    await pass(0);
    follower.registry.touch(JOB_SET);
    await pass(0);
    expect([owner.role(), follower.role()]).toEqual(["owner", "follower"]);

    // Cut off before its first renewal: its lease, taken at 0, ends at TTL_MS.
    a.cutOff();
    for (let at = 0; at < TTL_MS + RENEWAL_MS; at += 10) {
      await pass(10);
      expect(owner.liveStreams() + follower.liveStreams()).toBeLessThanOrEqual(1);
    }
    expect(owner.liveStreams()).toBe(0);
    expect(follower.liveStreams()).toBe(1);
    expect(follower.role()).toBe("owner");
  });

  it("is given back when the replica closes, so another takes it without waiting for it to end", async () => {
    const store = createMemoryStore({ ttlSeconds: 3600 });
    const replica = startReplica("a", store);
    replica.registry.touch(JOB_SET);
    await pass(0);
    expect(await store.lease(JOB_SET, "b", TTL_MS)).toBeUndefined();

    await replica.registry.close();
    expect(replica.liveStreams()).toBe(0);
    expect(await store.lease(JOB_SET, "b", TTL_MS)).toBeDefined();
  });

  it("is given back when nobody asked about the job set for the expiry time, and the job set is reported idle", async () => {
    const store = createMemoryStore({ ttlSeconds: 3600 });
    const expired: JobSetStatus[] = [];
    const replica = startReplica("a", store, { expiryMs: 10_000, onExpired: (jobSet) => expired.push(jobSet) });
    replica.registry.touch(JOB_SET);
    await pass(9_000);
    replica.registry.touch(JOB_SET);
    await pass(9_000);
    expect(replica.registry.has(JOB_SET)).toBe(true);

    await pass(2_000);
    expect(replica.registry.has(JOB_SET)).toBe(false);
    expect(expired.map((s) => [s.jobSetId, s.role])).toEqual([[JOB_SET.jobSetId, "owner"]]);
    expect(replica.liveStreams()).toBe(0);
    expect(await store.lease(JOB_SET, "b", TTL_MS)).toBeDefined();
  });
});

describe("a follower", () => {
  /** Another replica's lease, held for the whole test. */
  async function ownedElsewhere(store: JobStore): Promise<number> {
    const lease = await store.lease(JOB_SET, "elsewhere", 3_600_000);
    return lease!.fence;
  }

  it("looks at the store every poll interval until the owner has read the history, then only at each renewal", async () => {
    const store = createMemoryStore({ ttlSeconds: 3600 });
    const fence = await ownedElsewhere(store);
    const view = replicaView(store);
    const replica = startReplica("b", view.store);
    const entry = replica.registry.touch(JOB_SET);
    await pass(0);
    await pass(3 * POLL_MS);
    expect(view.leaseCalls).toHaveLength(4);
    expect(entry.ready).toBe(false);

    await store.write(
      JOB_SET,
      { jobs: new Map(), progress: { cursor: "7:0:0:0", caughtUp: true, error: "", updatedAt: Date.now() } },
      { expected: undefined, fence },
    );
    await pass(POLL_MS);
    expect(entry.ready).toBe(true);
    const readyAt = view.leaseCalls.length;
    await pass(RENEWAL_MS - 1);
    expect(view.leaseCalls).toHaveLength(readyAt);
    await pass(1);
    expect(view.leaseCalls).toHaveLength(readyAt + 1);
    expect(replica.role()).toBe("follower");
    expect(replica.liveStreams()).toBe(0);
  });

  it("is ready at once when the owner records that its stream is failing", async () => {
    const store = createMemoryStore({ ttlSeconds: 3600 });
    const fence = await ownedElsewhere(store);
    await store.write(
      JOB_SET,
      { jobs: new Map(), progress: { cursor: "", caughtUp: false, error: "Armada event stream failed: UNAVAILABLE: refused", updatedAt: Date.now() } },
      { expected: undefined, fence },
    );
    const replica = startReplica("b", store);
    const entry = replica.registry.touch(JOB_SET);
    await pass(0);
    expect(entry.ready).toBe(true);
  });

  it("retries a store that fails at the renewal pace, not the poll pace, and lets waiting calls know at once", async () => {
    const view = replicaView(createMemoryStore({ ttlSeconds: 3600 }));
    view.cutOff();
    const replica = startReplica("b", view.store);
    const entry = replica.registry.touch(JOB_SET);
    let told = false;
    void entry.storeFailed.then(() => (told = true));
    await pass(0);
    expect(told).toBe(true);
    expect(entry.storeFailure).toBe("connect ECONNREFUSED");

    await pass(2 * RENEWAL_MS);
    expect(view.leaseCalls).toHaveLength(3);
    expect(replica.liveStreams()).toBe(0);
  });
});
