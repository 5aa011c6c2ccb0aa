import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { jobSetKeys, RESERVED_FIELDS } from "../../src/store/keys.js";
import type { JobStore } from "../../src/store/store.js";
import { ROLLED_BACK } from "../../src/subscriber/subscription.js";
import { eventually, startSubscriber, streamCalls, testOptions, uniqueJobSet, useSimulatorAndStore, LONG_RUN, type StoreKind } from "./harness.js";

const QUEUE = "rollback";
const SHORT_RUN = { annotations: { "armada-sim/duration-ms": "10" } };

/**
 * How the store goes back in time: the job set's hash replaced by an older
 * copy of itself (DUMP then RESTORE … REPLACE, byte for byte what the store
 * held then), with its lease kept, or lost as well (a replica promoted behind
 * its master has neither the last writes nor the lease taken since).
 */
type Rollback = "lease kept" | "lease lost too";

const CASES: readonly (readonly [StoreKind, Rollback])[] = [
  ["redis", "lease kept"],
  ["redis", "lease lost too"],
  ["upstash", "lease kept"],
  ["upstash", "lease lost too"],
];

/** Takes a copy of the job set's hash now; `restore()` puts the store back to it. */
async function snapshot(redisUrl: string, jobSetId: string): Promise<{ cursor: string; restore(rollback: Rollback): Promise<void> }> {
  const keys = jobSetKeys({ queue: QUEUE, jobSetId });
  const admin = new Redis(redisUrl);
  try {
    const dump = await admin.dumpBuffer(keys.jobs);
    const cursor = await admin.hget(keys.jobs, RESERVED_FIELDS.cursor);
    expect(dump).not.toBeNull();
    return {
      cursor: cursor ?? "",
      async restore(rollback) {
        const again = new Redis(redisUrl);
        try {
          await again.restore(keys.jobs, 0, dump!, "REPLACE");
          if (rollback === "lease lost too") await again.del(keys.lease);
        } finally {
          again.disconnect();
        }
      },
    };
  } finally {
    admin.disconnect();
  }
}

const rollbacks = async (metrics: { metrics(): Promise<string> }): Promise<number> =>
  Number(/^jobservice_store_job_set_rollbacks_total (\S+)$/m.exec(await metrics.metrics())?.[1] ?? 0);

describe.each(CASES)("a job set the %s store rolls back to an older state (%s) while it is followed", (kind, rollback) => {
  const world = useSimulatorAndStore(kind, QUEUE);

  it("is noticed at the next lease renewal with no new event, answers CONNECTION_ERR until caught up, and resumes from the older cursor", async () => {
    const jobSetId = uniqueJobSet("quiet");
    const key = (jobId: string | undefined) => ({ queue: QUEUE, jobSetId, jobId: jobId! });
    const [running] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const service = startSubscriber(world.store, testOptions(world.sim.url, { idleTimeoutMs: 60_000 }));
    try {
      await eventually(
        () => service.status(key(running)),
        (answer) => answer.state === State.RUNNING,
      );
      const older = await snapshot(world.fixture.redisUrl!, jobSetId);
      const [finished] = world.sim.submit(QUEUE, jobSetId, [SHORT_RUN]);
      await eventually(
        () => service.status(key(finished)),
        (answer) => answer.state === State.SUCCEEDED,
      );

      // Armada goes silent, so the catch-up cannot finish: what readers see meanwhile is what this test checks.
      world.sim.faults.stall(60_000);
      await older.restore(rollback);
      const during = await eventually(
        () => service.status(key(finished)),
        (answer) => answer.state === State.CONNECTION_ERR,
      );
      expect(during.error).toBe(ROLLED_BACK);
      // From the moment the rollback is noticed, the forgotten job is never said not to exist.
      for (let ask = 0; ask < 20; ask++) expect((await service.status(key(finished))).state).toBe(State.CONNECTION_ERR);
      expect(await rollbacks(service.metrics)).toBe(1);
      expect(service.logs().match(/the store went back to an older state of the job set/g)).toHaveLength(1);

      world.sim.faults.unstall();
      await eventually(
        () => service.status(key(finished)),
        (answer) => answer.state === State.SUCCEEDED,
        15_000,
      );
      expect((await service.status(key(running))).state).toBe(State.RUNNING);
      // Read again from the cursor the store went back to, not rebuilt from the start.
      const calls = streamCalls(world.sim, jobSetId);
      expect(calls.some((call) => call.fromMessageId === older.cursor && older.cursor !== "")).toBe(true);
      expect(calls.filter((call) => call.fromMessageId === "")).toHaveLength(1);
      expect(await service.metrics.metrics()).toMatch(/jobservice_store_job_set_losses_total 0/);
    } finally {
      world.sim.faults.unstall();
      await service.close();
    }
  });

  it("is noticed by the next write when events keep coming, and every job ends in its true state", async () => {
    const jobSetId = uniqueJobSet("active");
    const key = (jobId: string | undefined) => ({ queue: QUEUE, jobSetId, jobId: jobId! });
    const [running] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const service = startSubscriber(world.store, testOptions(world.sim.url, { leaseTtlMs: 60_000 }));
    try {
      await eventually(
        () => service.status(key(running)),
        (answer) => answer.state === State.RUNNING,
      );
      const older = await snapshot(world.fixture.redisUrl!, jobSetId);
      const [finished] = world.sim.submit(QUEUE, jobSetId, [SHORT_RUN]);
      await eventually(
        () => service.status(key(finished)),
        (answer) => answer.state === State.SUCCEEDED,
      );
      await older.restore(rollback);
      world.sim.cancel(QUEUE, jobSetId, [running!]);
      await eventually(
        () => service.status(key(running)),
        (answer) => answer.state === State.CANCELLED,
      );
      await eventually(
        () => service.status(key(finished)),
        (answer) => answer.state === State.SUCCEEDED,
      );
      expect(await rollbacks(service.metrics)).toBe(1);
      expect(streamCalls(world.sim, jobSetId).filter((call) => call.fromMessageId === "")).toHaveLength(1);
    } finally {
      await service.close();
    }
  });

  it("is noticed when the owner takes the lease again after its renewals failed (a store outage)", async () => {
    const jobSetId = uniqueJobSet("outage");
    const key = (jobId: string | undefined) => ({ queue: QUEUE, jobSetId, jobId: jobId! });
    let down = false;
    const store: JobStore = {
      ...world.store,
      lease: (jobSet, owner, ttlMs) => (down ? Promise.reject(new Error("store unreachable")) : world.store.lease(jobSet, owner, ttlMs)),
    };
    const [running] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const service = startSubscriber(store, testOptions(world.sim.url, { idleTimeoutMs: 60_000 }));
    try {
      await eventually(
        () => service.status(key(running)),
        (answer) => answer.state === State.RUNNING,
      );
      const older = await snapshot(world.fixture.redisUrl!, jobSetId);
      const [finished] = world.sim.submit(QUEUE, jobSetId, [SHORT_RUN]);
      await eventually(
        () => service.status(key(finished)),
        (answer) => answer.state === State.SUCCEEDED,
      );
      down = true;
      await eventually(
        () => service.subscriber.jobSets().find((s) => s.jobSetId === jobSetId)?.role,
        (role) => role === "follower",
        15_000,
      );
      await older.restore(rollback);
      down = false;
      await eventually(
        () => rollbacks(service.metrics),
        (n) => n === 1,
        15_000,
      );
      await eventually(
        () => service.status(key(finished)),
        (answer) => answer.state === State.SUCCEEDED,
        15_000,
      );
      expect(streamCalls(world.sim, jobSetId).some((call) => call.fromMessageId === older.cursor && older.cursor !== "")).toBe(true);
    } finally {
      await service.close();
    }
  });
});
