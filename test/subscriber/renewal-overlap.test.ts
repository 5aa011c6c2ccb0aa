import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryStore } from "../../src/store/memory.js";
import { event, streamMessage } from "./event-builders.js";
import { closeReplicas, JOB_SET, pass, RENEWAL_MS, replicaView, startReplica } from "./fake-time-replica.js";

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(async () => {
  await closeReplicas();
  vi.useRealTimers();
});

describe("a lease renewal overtaken by the owner's own write", () => {
  it("is not taken for a rollback, nor even suspected: the store may hold either side of that write", async () => {
    const view = replicaView(createMemoryStore({ ttlSeconds: 3600 }));
    const replica = startReplica("a", view.store);
    replica.registry.touch(JOB_SET);
    await pass(0);
    replica.send([streamMessage(1, event("submitted", "job-1", Date.now()))]);
    await pass(RENEWAL_MS / 2);
    expect((await view.store.readProgress(JOB_SET))?.cursor).toBe(streamMessage(1, undefined).id);

    // The renewal's answer, taken before the write below, comes back after it.
    view.hold();
    await pass(RENEWAL_MS / 2);
    expect(view.heldRenewals()).toBe(1);
    replica.send([streamMessage(2, event("submitted", "job-2", Date.now()))]);
    await pass(100);
    expect((await view.store.readProgress(JOB_SET))?.cursor).toBe(streamMessage(2, undefined).id);
    view.release();

    // That renewal and three more, none overtaken: nothing to find.
    await pass(3 * RENEWAL_MS);
    expect(view.leaseCalls).toHaveLength(5);
    const metrics = await replica.metrics.metrics();
    expect(metrics).toMatch(/jobservice_store_job_set_rollbacks_total 0/);
    // The stream was never stopped to read the store again.
    expect(metrics).not.toMatch(/jobservice_armada_reconnects_total\{reason="store-lost"\}/);
    expect(replica.streamsOpened()).toBe(1);
  });
});
