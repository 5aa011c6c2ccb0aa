import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { JobService, JobServiceResponse_State as State, type JobServiceResponse } from "../../src/gen/jobservice/jobservice_pb.js";
import { createMetricsRegistry } from "../../src/observability/metrics.js";
import { startService } from "../../src/cli/job-service.js";
import type { JobStore } from "../../src/store/store.js";
import { createSubscriber } from "../../src/subscriber/index.js";
import { withWriteNotices } from "../../src/watch/write-notices.js";
import { eventually, LONG_RUN, testOptions, uniqueJobSet, useSimulatorAndStore } from "../subscriber/harness.js";

const QUEUE = "watch-upstream";

/** A whole replica: its subscriber writing through its own store handle, and the one-port server. */
async function startReplica(store: JobStore, armadaUrl: string) {
  const logger = pino({ level: "silent" });
  const notified = withWriteNotices(store);
  const metrics = createMetricsRegistry({ processMetrics: false });
  const subscriber = createSubscriber(testOptions(armadaUrl), { store: notified.store, logger, metrics });
  const service = await startService(
    { host: "127.0.0.1", port: 0, maxRequestBytes: 65_536, shutdownGraceSeconds: 0, watchPollMs: 50 },
    { store: notified.store, logger, metrics, status: subscriber, notices: notified.notices },
  );
  return {
    client: createClient(JobService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${service.listener.port}` })),
    subscriber,
    metrics,
    async stop() {
      await service.stop();
      await subscriber.close();
    },
  };
}

/** Reads a watch to its end in the background. */
function record(stream: AsyncIterable<JobServiceResponse>) {
  const seen: State[] = [];
  const done = (async () => {
    for await (const message of stream) seen.push(message.state);
    return "ended OK";
  })();
  return { seen, done };
}

function noStateTwiceInARow(states: readonly State[]): boolean {
  return states.every((state, i) => i === 0 || states[i - 1] !== state);
}

describe("WatchJobStatus across Armada reconnects (memory store)", () => {
  const world = useSimulatorAndStore("memory", QUEUE);

  it("says CONNECTION_ERR once while the stream is down, then the real state, and ends exactly once at the terminal state", async () => {
    const jobSetId = uniqueJobSet("reconnect");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const replica = await startReplica(world.store, world.sim.url);
    try {
      const watch = record(replica.client.watchJobStatus({ queue: QUEUE, jobSetId, jobId: jobId! }, { timeoutMs: 20_000 }));
      await eventually(
        () => watch.seen.at(-1),
        (state) => state === State.RUNNING,
      );

      world.sim.faults.refuse(1_000, Code.Unavailable, { method: "GetJobSetEvents", message: "armada is restarting" });
      world.sim.faults.dropStreams(Code.Unavailable, "armada is restarting");
      await eventually(
        () => watch.seen.at(-1),
        (state) => state === State.CONNECTION_ERR,
      );
      // Several failed reconnects later, still one CONNECTION_ERR.
      await eventually(
        () => world.sim.calls({ method: "GetJobSetEvents" }).filter((c) => c.jobSetId === jobSetId && c.result === "unavailable").length,
        (n) => n >= 3,
      );
      world.sim.cancel(QUEUE, jobSetId, [jobId!]);
      world.sim.faults.reset();

      await expect(watch.done).resolves.toBe("ended OK");
      expect(watch.seen.slice(-3)).toEqual([State.RUNNING, State.CONNECTION_ERR, State.CANCELLED]);
      expect(watch.seen.filter((s) => s === State.CONNECTION_ERR)).toHaveLength(1);
      expect(watch.seen.filter((s) => s === State.CANCELLED)).toHaveLength(1);
      expect(noStateTwiceInARow(watch.seen)).toBe(true);
    } finally {
      await replica.stop();
    }
  });
});

describe("WatchJobStatus across a replica takeover (redis store)", () => {
  const world = useSimulatorAndStore("redis", QUEUE);

  it("a follower's watch sees the new owner's writes and ends once at the terminal state", async () => {
    const jobSetId = uniqueJobSet("takeover");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const key = { queue: QUEUE, jobSetId, jobId: jobId! };
    await eventually(() => world.sim.events(QUEUE, jobSetId).some((m) => m.message?.events.case === "running"), Boolean);
    const owner = await startReplica(world.fixture.open(), world.sim.url);
    const follower = await startReplica(world.fixture.open(), world.sim.url);
    try {
      expect((await owner.subscriber.status(key, { signal: AbortSignal.timeout(5_000) })).state).toBe(State.RUNNING);
      await eventually(
        () => owner.metrics.metrics(),
        (text) => text.includes('jobservice_subscriptions_active{role="owner"} 1'),
      );
      const watch = record(follower.client.watchJobStatus(key, { timeoutMs: 20_000 }));
      await eventually(
        () => watch.seen.at(-1),
        (state) => state === State.RUNNING,
      );
      await eventually(
        () => follower.metrics.metrics(),
        (text) => text.includes('jobservice_subscriptions_active{role="follower"} 1'),
      );

      await owner.stop();
      await eventually(
        () => follower.metrics.metrics(),
        (text) => text.includes('jobservice_subscriptions_active{role="owner"} 1'),
      );
      world.sim.cancel(QUEUE, jobSetId, [jobId!]);

      await expect(watch.done).resolves.toBe("ended OK");
      expect(watch.seen).toEqual([State.RUNNING, State.CANCELLED]);
    } finally {
      await owner.stop().catch(() => undefined);
      await follower.stop();
    }
  });
});
