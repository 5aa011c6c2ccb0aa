import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { startSimulator } from "../../src/simulator/index.js";
import {
  STORE_KINDS,
  eventually,
  startStoreFixture,
  useSimulatorAndStore,
  startSubscriber,
  testOptions,
  uniqueJobSet,
  withWriteFaults,
  FAST_LIFECYCLE,
  LONG_RUN,
  streamCalls,
} from "./harness.js";

const QUEUE = "faults";
const SHORT_RUN = { annotations: { "armada-sim/duration-ms": "10" } };

describe.each(STORE_KINDS)("Armada failures, over the %s store", (kind) => {
  const world = useSimulatorAndStore(kind, QUEUE);

  it("a dropped stream shows as CONNECTION_ERR while it is down, terminal jobs keep their state, and it recovers", async () => {
    const jobSetId = uniqueJobSet("drop");
    const [running, finished] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN, SHORT_RUN]);
    const key = (jobId: string | undefined) => ({ queue: QUEUE, jobSetId, jobId: jobId! });
    const service = startSubscriber(world.store, testOptions(world.sim.url));
    try {
      await eventually(
        () => service.status(key(running)),
        (a) => a.state === State.RUNNING,
      );
      await eventually(
        () => service.status(key(finished)),
        (a) => a.state === State.SUCCEEDED,
      );

      world.sim.faults.refuse(1_000, Code.Unavailable, { method: "GetJobSetEvents", message: "armada is restarting" });
      world.sim.faults.dropStreams(Code.Unavailable, "armada is restarting");
      const down = await eventually(
        () => service.status(key(running)),
        (a) => a.state === State.CONNECTION_ERR,
      );
      expect(down.error).toBe("Armada event stream failed: UNAVAILABLE: armada is restarting");
      expect((await service.status(key(finished))).state).toBe(State.SUCCEEDED);
      // Every replica's readers see it: the reason is in the world.store.
      await eventually(
        () => world.store.read(key(running)).then((l) => l.progress?.error),
        (error) => error === down.error,
      );
      expect(await service.metrics.metrics()).toMatch(/jobservice_subscriptions_failing\{reason="unavailable"\} 1/);

      world.sim.cancel(QUEUE, jobSetId, [running!]);
      world.sim.faults.reset();
      expect(
        (
          await eventually(
            () => service.status(key(running)),
            (a) => a.state === State.CANCELLED,
          )
        ).state,
      ).toBe(State.CANCELLED);
      await eventually(
        () => world.store.read(key(running)).then((l) => l.progress?.error),
        (error) => error === "",
      );
      const resumed = streamCalls(world.sim, jobSetId).filter((c) => c.result !== "unavailable");
      expect(resumed.slice(1).every((c) => c.fromMessageId !== "")).toBe(true);
    } finally {
      await service.close();
    }
  });

  it("a connection cut without a status is noticed and resumed from the cursor", async () => {
    const jobSetId = uniqueJobSet("cut");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const key = { queue: QUEUE, jobSetId, jobId: jobId! };
    const service = startSubscriber(world.store, testOptions(world.sim.url));
    try {
      await eventually(
        () => service.status(key),
        (a) => a.state === State.RUNNING,
      );
      await eventually(
        () => world.sim.openStreams({ queue: QUEUE, jobSetId }),
        (n) => n === 1,
      );
      const before = streamCalls(world.sim, jobSetId).length;
      world.sim.faults.disconnect();
      world.sim.cancel(QUEUE, jobSetId, [jobId!]);
      expect(
        (
          await eventually(
            () => service.status(key),
            (a) => a.state === State.CANCELLED,
          )
        ).state,
      ).toBe(State.CANCELLED);
      expect(
        streamCalls(world.sim, jobSetId)
          .slice(before)
          .every((c) => c.fromMessageId !== ""),
      ).toBe(true);
    } finally {
      await service.close();
    }
  });

  it("a quiet live stream is reopened from its cursor after the idle limit, without alarming callers", async () => {
    const jobSetId = uniqueJobSet("quiet");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const key = { queue: QUEUE, jobSetId, jobId: jobId! };
    const service = startSubscriber(world.store, testOptions(world.sim.url, { idleTimeoutMs: 200 }));
    try {
      await eventually(
        () => service.status(key),
        (a) => a.state === State.RUNNING,
      );
      const cursor = world.sim.events(QUEUE, jobSetId).at(-1)?.id;
      const seen = new Set<State>();
      await eventually(
        async () => {
          seen.add((await service.status(key)).state);
          return streamCalls(world.sim, jobSetId).filter((c) => c.watch).length;
        },
        (watches) => watches >= 3,
      );
      expect([...seen]).toEqual([State.RUNNING]);
      expect(
        streamCalls(world.sim, jobSetId)
          .slice(2)
          .every((c) => c.fromMessageId === cursor),
      ).toBe(true);
      expect(await service.metrics.metrics()).toMatch(/jobservice_armada_reconnects_total\{reason="idle"\} [2-9]/);
    } finally {
      await service.close();
    }
  });

  it("a stalled stream is reopened; while the history stalls callers see CONNECTION_ERR, then the right state", async () => {
    const jobSetId = uniqueJobSet("stall");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const key = { queue: QUEUE, jobSetId, jobId: jobId! };
    const service = startSubscriber(world.store, testOptions(world.sim.url, { idleTimeoutMs: 300 }));
    try {
      await eventually(
        () => service.status(key),
        (a) => a.state === State.RUNNING,
      );
      world.sim.faults.stall(60_000);
      world.sim.cancel(QUEUE, jobSetId, [jobId!]);
      const stalled = await eventually(
        () => service.status(key),
        (a) => a.state === State.CONNECTION_ERR,
      );
      expect(stalled.error).toBe("Armada sent nothing for 300 ms while replaying the job set's history");
      world.sim.faults.unstall();
      expect(
        (
          await eventually(
            () => service.status(key),
            (a) => a.state === State.CANCELLED,
          )
        ).state,
      ).toBe(State.CANCELLED);
    } finally {
      await service.close();
    }
  });

  it("an unknown queue gets a clear answer at once and is retried slowly", async () => {
    const jobSetId = uniqueJobSet("nowhere");
    const service = startSubscriber(world.store, testOptions(world.sim.url, { slowRetryMs: 2_000, catchUpWaitMs: 5_000 }));
    try {
      const started = Date.now();
      const answer = await service.status({ queue: "no-such-queue", jobSetId, jobId: "j" });
      expect(answer.state).toBe(State.CONNECTION_ERR);
      expect(answer.error).toMatch(/^Armada event stream failed: NOT_FOUND: .*no-such-queue.* does not exist$/);
      expect(Date.now() - started).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      // Slow retries come 1-2 s apart; the fast backoff (20 ms doubling to 200 ms) would have made about ten calls.
      expect(streamCalls(world.sim, jobSetId).length).toBeLessThanOrEqual(2);
      expect((await service.status({ queue: "no-such-queue", jobSetId, jobId: "j" })).state).toBe(State.CONNECTION_ERR);
    } finally {
      await service.close();
    }
  });
});

describe("Armada's health", () => {
  it("is true while Armada serves, and false within the deadline when it is gone", async () => {
    const sim = await startSimulator();
    const fixture = await startStoreFixture("memory");
    const service = startSubscriber(fixture.open(), testOptions(sim.url, { healthTimeoutMs: 300 }));
    try {
      expect(await service.subscriber.armadaHealthy(AbortSignal.timeout(2_000))).toBe(true);
      sim.faults.setLatency(5_000);
      const started = Date.now();
      expect(await service.subscriber.armadaHealthy(AbortSignal.timeout(2_000))).toBe(false);
      expect(Date.now() - started).toBeLessThan(2_000);
      sim.faults.reset();
      await sim.close();
      expect(await service.subscriber.armadaHealthy(AbortSignal.timeout(2_000))).toBe(false);
    } finally {
      await service.close();
      await sim.close();
      await fixture.stop();
    }
  });
});

describe("a store that refuses a write", () => {
  it("loses no event and applies none twice: the stream is re-read from the stored cursor", async () => {
    const sim = await startSimulator({ queues: [QUEUE], lifecycle: FAST_LIFECYCLE });
    const fixture = await startStoreFixture("memory");
    // Writes 2 and 3 fail: one carries events, the next is the attempt to record the failure.
    const { store, writes } = withWriteFaults(fixture.open(), new Set([2, 3]));
    const service = startSubscriber(store, testOptions(sim.url, { batchMaxDelayMs: 1 }));
    try {
      const jobSetId = uniqueJobSet("outage");
      const ids = sim.submit(QUEUE, jobSetId, [LONG_RUN, SHORT_RUN, LONG_RUN]);
      const states = () => Promise.all(ids.map((jobId) => service.status({ queue: QUEUE, jobSetId, jobId })).map((p) => p.then((a) => a.state)));
      expect(await eventually(states, (s) => s.join() === [State.RUNNING, State.SUCCEEDED, State.RUNNING].join())).toHaveLength(3);
      expect(writes.length).toBeGreaterThan(3);
      for (const jobId of ids) {
        expect((await store.read({ queue: QUEUE, jobSetId, jobId })).job).toMatchObject({ runAttempts: 1, submittedAt: expect.any(Number) });
      }
      expect(await service.metrics.metrics()).toMatch(/jobservice_store_write_failures_total [1-9]/);
      expect(await service.metrics.metrics()).toMatch(/jobservice_armada_reconnects_total\{reason="store"\} 1/);
    } finally {
      await service.close();
      await sim.close();
      await fixture.stop();
    }
  });
});
