import { describe, expect, it } from "vitest";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobStore, Lease } from "../../src/store/store.js";
import { eventually, startSubscriber, testOptions, uniqueJobSet, useSimulatorAndStore, LONG_RUN } from "./harness.js";

const QUEUE = "overlap";

/**
 * The store, with lease renewals that can be held after the store has
 * answered them: the answer then describes the store as it was before
 * whatever the owner wrote meanwhile, as a renewal overtaken by a write does.
 */
function withHeldRenewals(inner: JobStore) {
  let holding = false;
  const held: (() => void)[] = [];
  const store: JobStore = {
    ...inner,
    lease: async (jobSet, owner, ttlMs): Promise<Lease | undefined> => {
      const lease = await inner.lease(jobSet, owner, ttlMs);
      if (holding) await new Promise<void>((resolve) => held.push(resolve));
      return lease;
    },
  };
  return {
    store,
    hold: () => void (holding = true),
    held: () => held.length,
    release: () => {
      holding = false;
      for (const resolve of held.splice(0)) resolve();
    },
  };
}

describe("a lease renewal overtaken by the owner's own write", () => {
  const world = useSimulatorAndStore("memory", QUEUE);

  it("is not taken for a rollback, nor even suspected: the store may hold either side of that write", async () => {
    const jobSetId = uniqueJobSet("overlap");
    const key = (jobId: string | undefined) => ({ queue: QUEUE, jobSetId, jobId: jobId! });
    const [first] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const renewals = withHeldRenewals(world.store);
    const service = startSubscriber(renewals.store, testOptions(world.sim.url, { idleTimeoutMs: 60_000 }));
    try {
      await eventually(
        () => service.status(key(first)),
        (answer) => answer.state === State.RUNNING,
      );
      renewals.hold();
      await eventually(
        () => renewals.held(),
        (n) => n > 0,
      );
      // While the renewal's answer (taken before) is held, the owner writes a new event.
      const [second] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
      await eventually(
        () => service.status(key(second)),
        (answer) => answer.state === State.RUNNING,
      );
      renewals.release();
      // Several more renewals, none overtaken: still nothing to find.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const metrics = await service.metrics.metrics();
      expect(metrics).toMatch(/jobservice_store_job_set_rollbacks_total 0/);
      // The stream was never stopped to read the store again.
      expect(metrics).not.toMatch(/jobservice_armada_reconnects_total\{reason="store-lost"\}/);
      expect(service.logs()).not.toContain("older state");
    } finally {
      renewals.release();
      await service.close();
    }
  });
});
