import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createMetricsRegistry } from "../../src/observability/metrics.js";
import type { JobSetKey } from "../../src/store/store.js";
import { createSubscriber, type StreamFailure } from "../../src/subscriber/index.js";
import { eventually, startSubscriber, testOptions, uniqueJobSet, useSimulatorAndStore } from "./harness.js";

const QUEUE = "listed";

describe("the job sets a replica lists for its status page", () => {
  const world = useSimulatorAndStore("redis", QUEUE);

  it("name each job set's role, and for the owner its cursor, last event and readiness", async () => {
    const jobSetId = uniqueJobSet("listed");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [{}]);
    const owner = startSubscriber(world.fixture.open(), testOptions(world.sim.url));
    const follower = startSubscriber(world.fixture.open(), testOptions(world.sim.url));
    try {
      await owner.status({ queue: QUEUE, jobSetId, jobId: jobId! });
      await follower.status({ queue: QUEUE, jobSetId, jobId: jobId! });
      const last = (): string => world.sim.events(QUEUE, jobSetId).at(-1)?.id ?? "";
      const listed = await eventually(
        () => owner.subscriber.jobSets()[0],
        (status) => status?.cursor === last() && world.sim.events(QUEUE, jobSetId).some((m) => m.message?.events.case === "succeeded"),
      );
      expect(listed).toMatchObject({ queue: QUEUE, jobSetId, role: "owner", ready: true, failure: undefined });
      expect(listed?.lastEventAt).toBeGreaterThan(0);
      expect(follower.subscriber.jobSets()).toEqual([expect.objectContaining({ queue: QUEUE, jobSetId, role: "follower", cursor: "", failure: undefined })]);
    } finally {
      await Promise.all([owner.close(), follower.close()]);
    }
  });

  it("report each failure of an owned stream to the service, with the job set and Armada's reason", async () => {
    const failures: Array<{ jobSet: JobSetKey; failure: StreamFailure }> = [];
    const subscriber = createSubscriber(testOptions(world.sim.url), {
      store: world.store,
      logger: pino({ level: "silent" }),
      metrics: createMetricsRegistry({ processMetrics: false }),
      onStreamFailure: (jobSet, failure) => failures.push({ jobSet, failure }),
    });
    try {
      await subscriber.status({ queue: "missing-queue", jobSetId: "s", jobId: "j" }, { signal: AbortSignal.timeout(5_000) });
      expect(failures[0]).toMatchObject({
        jobSet: { queue: "missing-queue", jobSetId: "s" },
        failure: { reason: "not_found", text: expect.stringContaining("NOT_FOUND") },
      });
      expect(subscriber.jobSets()).toEqual([expect.objectContaining({ role: "owner", failure: failures[0]?.failure })]);
    } finally {
      await subscriber.close();
    }
  });
});
