import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
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
  FAST_LIFECYCLE,
  LONG_RUN,
  streamCalls,
} from "./harness.js";

const QUEUE = "lifecycle";

const steer = (annotations: Record<string, string>) => ({ annotations });

describe.each(STORE_KINDS)("the subscriber over the %s store", (kind) => {
  const world = useSimulatorAndStore(kind, QUEUE);

  it("follows each job through its lifecycle to the right terminal state and error text", async () => {
    const jobSetId = uniqueJobSet("life");
    const [ok, oom, failing, cancelled, retried, preempted] = world.sim.submit(QUEUE, jobSetId, [
      // Long enough that the first answers see it before it ends, even on a busy machine.
      steer({ "armada-sim/outcome": "succeeded", "armada-sim/duration-ms": "1500" }),
      steer({ "armada-sim/exit-code": "137", "armada-sim/cause": "OOM", "armada-sim/reason": "OOMKilled", "armada-sim/duration-ms": "300" }),
      steer({ "armada-sim/exit-code": "3", "armada-sim/duration-ms": "300" }),
      steer({ "armada-sim/outcome": "cancelled", "armada-sim/duration-ms": "300" }),
      steer({ "armada-sim/retries": "1", "armada-sim/outcome": "succeeded", "armada-sim/duration-ms": "100" }),
      steer({ "armada-sim/outcome": "preempted", "armada-sim/duration-ms": "100" }),
    ]);
    const service = startSubscriber(world.store, testOptions(world.sim.url));
    try {
      const key = (jobId: string | undefined) => ({ queue: QUEUE, jobSetId, jobId: jobId! });
      const seen = new Set<State>();
      await eventually(
        async () => {
          const answer = await service.status(key(ok));
          seen.add(answer.state);
          return answer;
        },
        (a) => a.state === State.SUCCEEDED,
      );
      expect(seen.has(State.RUNNING) || seen.has(State.SUBMITTED)).toBe(true);
      expect(
        await eventually(
          () => service.status(key(oom)),
          (a) => a.state === State.FAILED,
        ),
      ).toEqual({
        state: State.FAILED,
        error: "OOMKilled (exit code 137, cause OOM)",
      });
      expect(
        await eventually(
          () => service.status(key(failing)),
          (a) => a.state === State.FAILED,
        ),
      ).toEqual({
        state: State.FAILED,
        error: "Error: container main exited with code 3 (exit code 3)",
      });
      expect(
        (
          await eventually(
            () => service.status(key(cancelled)),
            (a) => a.state === State.CANCELLED,
          )
        ).state,
      ).toBe(State.CANCELLED);
      // A retryable failure is not the end: the retry's success is.
      expect(
        (
          await eventually(
            () => service.status(key(retried)),
            (a) => a.state === State.SUCCEEDED,
          )
        ).state,
      ).toBe(State.SUCCEEDED);
      expect((await world.store.read(key(retried))).job?.runAttempts).toBe(2);
      expect(
        await eventually(
          () => service.status(key(preempted)),
          (a) => a.state === State.FAILED,
        ),
      ).toEqual({
        state: State.FAILED,
        error: "preempted (cause Evicted)",
      });

      const stored = await world.store.read(key(ok));
      expect(stored.job).toMatchObject({ lastEvent: "succeeded", runAttempts: 1 });
      expect(stored.job?.startedAt).toBeLessThanOrEqual(stored.job?.finishedAt ?? 0);
      expect(stored.progress).toMatchObject({ caughtUp: true, error: "" });

      const metrics = await service.metrics.metrics();
      expect(metrics).toMatch(/jobservice_events_applied_total\{type="succeeded"\} [1-9]/);
      expect(metrics).toMatch(/jobservice_subscriptions_active\{role="owner"\} 1/);
      expect(metrics).toMatch(/jobservice_store_write_batch_seconds_count [1-9]/);
      expect(metrics).toMatch(/jobservice_job_set_seconds_since_last_event_count 1\b/);
      expect(metrics).toMatch(/jobservice_catch_up_seconds_count [1-9]/);
    } finally {
      await service.close();
    }
  });

  it("answers a cold cache's first call with the real state, never JOB_ID_NOT_FOUND for a known job", async () => {
    const jobSetId = uniqueJobSet("cold");
    const [done, running] = world.sim.submit(QUEUE, jobSetId, [steer({ "armada-sim/duration-ms": "50" }), LONG_RUN]);
    const hasEvent = (jobId: string | undefined, eventCase: string) => () =>
      world.sim.events(QUEUE, jobSetId).some((m) => m.message?.events.case === eventCase && m.message.events.value.jobId === jobId);
    await eventually(hasEvent(done, "succeeded"), Boolean);
    await eventually(hasEvent(running, "running"), Boolean);
    const service = startSubscriber(world.store, testOptions(world.sim.url));
    try {
      const [first, second, unknown] = await Promise.all([
        service.status({ queue: QUEUE, jobSetId, jobId: done! }),
        service.status({ queue: QUEUE, jobSetId, jobId: running! }),
        service.status({ queue: QUEUE, jobSetId, jobId: "01J0000000000000000000000" }),
      ]);
      expect(first.state).toBe(State.SUCCEEDED);
      expect(second.state).toBe(State.RUNNING);
      expect(unknown.state).toBe(State.JOB_ID_NOT_FOUND);
    } finally {
      await service.close();
    }
  });

  it("applies a burst of events in a handful of store round trips", async () => {
    const jobSetId = uniqueJobSet("burst");
    const jobIds = Array.from({ length: 120 }, (_, i) => `burst-job-${i}`);
    const cases = ["submitted", "queued", "leased", "pending", "running"] as const;
    for (const eventCase of cases) {
      world.sim.appendEvents(
        QUEUE,
        jobSetId,
        jobIds.map((jobId) => ({ events: { case: eventCase, value: { jobId, jobSetId, queue: QUEUE } } })),
      );
    }
    const service = startSubscriber(world.store, testOptions(world.sim.url, { batchMaxEvents: 200, batchMaxDelayMs: 50 }));
    try {
      const requestsBefore = world.fixture.httpRequests?.() ?? 0;
      expect((await service.status({ queue: QUEUE, jobSetId, jobId: jobIds[77]! })).state).toBe(State.RUNNING);
      const metrics = await service.metrics.metrics();
      // 600 events: three full batches of 200 and the caught-up mark, plus a few more if the stream was slow.
      const batches = Number(/jobservice_store_write_batch_events_count (\d+)/.exec(metrics)?.[1]);
      expect(batches).toBeGreaterThanOrEqual(4);
      expect(batches).toBeLessThanOrEqual(8);
      expect(metrics).toMatch(/jobservice_catch_up_events_sum 600/);
      if (world.fixture.httpRequests) expect(world.fixture.httpRequests() - requestsBefore).toBeLessThan(40);
    } finally {
      await service.close();
    }
  });

  it("shares one upstream stream among concurrent first calls", async () => {
    const jobSetId = uniqueJobSet("herd");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    await eventually(() => world.sim.jobs().find((j) => j.jobId === jobId) !== undefined && world.sim.events(QUEUE, jobSetId).length >= 5, Boolean);
    const service = startSubscriber(world.store, testOptions(world.sim.url));
    try {
      const answers = await Promise.all(Array.from({ length: 25 }, () => service.status({ queue: QUEUE, jobSetId, jobId: jobId! })));
      expect(new Set(answers.map((a) => a.state))).toEqual(new Set([State.RUNNING]));
      await eventually(
        () => world.sim.openStreams({ queue: QUEUE, jobSetId }),
        (n) => n === 1,
      );
      const calls = streamCalls(world.sim, jobSetId);
      expect(calls.map((c) => c.watch)).toEqual([false, true]);
    } finally {
      await service.close();
    }
    await eventually(
      () => world.sim.openStreams({ queue: QUEUE, jobSetId }),
      (n) => n === 0,
    );
  });

  it("resumes after a restart from the stored cursor, not from the beginning", async () => {
    const jobSetId = uniqueJobSet("resume");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const key = { queue: QUEUE, jobSetId, jobId: jobId! };
    const first = startSubscriber(world.store, testOptions(world.sim.url));
    await eventually(
      () => first.status(key),
      (a) => a.state === State.RUNNING,
    );
    await first.close();
    const cursor = (await world.store.read(key)).progress?.cursor;
    expect(cursor).toBe(world.sim.events(QUEUE, jobSetId).at(-1)?.id);

    world.sim.cancel(QUEUE, jobSetId, [jobId!]);
    const restarted = startSubscriber(world.fixture.open(), testOptions(world.sim.url));
    try {
      expect(
        (
          await eventually(
            () => restarted.status(key),
            (a) => a.state === State.CANCELLED,
          )
        ).state,
      ).toBe(State.CANCELLED);
      const calls = streamCalls(world.sim, jobSetId);
      expect(calls[0]?.fromMessageId).toBe("");
      expect(calls.slice(1).every((c) => c.fromMessageId !== "")).toBe(true);
      expect(calls.some((c) => c.fromMessageId === cursor)).toBe(true);
    } finally {
      await restarted.close();
    }
  });

  it("closes a subscription nobody asks about, and a later call resumes it from the cursor", async () => {
    const jobSetId = uniqueJobSet("expiry");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const key = { queue: QUEUE, jobSetId, jobId: jobId! };
    const service = startSubscriber(world.store, testOptions(world.sim.url, { subscriptionExpirySeconds: 0.4 }));
    try {
      await eventually(
        () => service.status(key),
        (a) => a.state === State.RUNNING,
      );
      await eventually(
        () => world.sim.openStreams({ queue: QUEUE, jobSetId }),
        (n) => n === 1,
      );
      await eventually(
        () => world.sim.openStreams({ queue: QUEUE, jobSetId }),
        (n) => n === 0,
        3_000,
      );
      expect((await world.store.read(key)).job?.state).toBe(State.RUNNING);

      world.sim.cancel(QUEUE, jobSetId, [jobId!]);
      const callsBefore = streamCalls(world.sim, jobSetId).length;
      expect(
        (
          await eventually(
            () => service.status(key),
            (a) => a.state === State.CANCELLED,
          )
        ).state,
      ).toBe(State.CANCELLED);
      const resumed = streamCalls(world.sim, jobSetId).slice(callsBefore);
      expect(resumed[0]?.fromMessageId).not.toBe("");
    } finally {
      await service.close();
    }
  });
});

describe("the subscription cap", () => {
  it("answers RESOURCE_EXHAUSTED for one job set too many, and makes room as subscriptions expire", async () => {
    const sim = await startSimulator({ queues: [QUEUE], lifecycle: FAST_LIFECYCLE });
    const fixture = await startStoreFixture("memory");
    const service = startSubscriber(fixture.open(), testOptions(sim.url, { maxSubscriptions: 2, subscriptionExpirySeconds: 0.3 }));
    const key = (jobSetId: string) => ({ queue: QUEUE, jobSetId, jobId: "j" });
    try {
      await service.status(key("cap-1"));
      await service.status(key("cap-2"));
      expect((await service.status(key("cap-1"))).state).toBe(State.JOB_ID_NOT_FOUND);
      const refused = await service.status(key("cap-3")).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe(Code.ResourceExhausted);
      expect((refused as ConnectError).rawMessage).toMatch(/limit of 2 job sets/);
      await eventually(
        () =>
          service.status(key("cap-3")).then(
            (a) => a.state,
            () => undefined,
          ),
        (s) => s === State.JOB_ID_NOT_FOUND,
        3_000,
        100,
      );
    } finally {
      await service.close();
      await sim.close();
      await fixture.stop();
    }
  });
});
