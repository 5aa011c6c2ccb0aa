import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { eventually, useSimulatorAndStore, startSubscriber, testOptions, uniqueJobSet, type StoreKind, LONG_RUN, streamCalls } from "./harness.js";

const QUEUE = "replicas";
const SHARED_STORES: readonly StoreKind[] = ["redis", "upstash"];

describe.each(SHARED_STORES)("replicas sharing the %s store", (kind) => {
  const world = useSimulatorAndStore(kind, QUEUE);

  it("follow each job set with one stream even when their first calls race, all answer, and one takes over when the owner closes", async () => {
    const jobSetId = uniqueJobSet("pair");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const key = { queue: QUEUE, jobSetId, jobId: jobId! };
    // Running in Armada before anyone asks, so every answer, owner's or follower's, is RUNNING.
    await eventually(() => world.sim.events(QUEUE, jobSetId).some((m) => m.message?.events.case === "running"), Boolean);
    const first = startSubscriber(world.fixture.open(), testOptions(world.sim.url));
    const second = startSubscriber(world.fixture.open(), testOptions(world.sim.url));
    try {
      // Both replicas' first calls at once: one of them wins the lease, the other reads what it writes.
      const answers = await Promise.all([first.status(key), second.status(key), first.status(key), second.status(key)]);
      expect(answers.map((a) => a.state)).toEqual([State.RUNNING, State.RUNNING, State.RUNNING, State.RUNNING]);
      await eventually(
        () => world.sim.openStreams({ queue: QUEUE, jobSetId }),
        (n) => n === 1,
      );
      // Several lease renewals later, still one stream.
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(world.sim.openStreams({ queue: QUEUE, jobSetId })).toBe(1);
      expect(streamCalls(world.sim, jobSetId).filter((c) => !c.watch)).toHaveLength(1);
      const roles = await Promise.all([first.metrics.metrics(), second.metrics.metrics()]);
      expect(roles.filter((text) => text.includes('jobservice_subscriptions_active{role="owner"} 1'))).toHaveLength(1);
      expect(roles.filter((text) => text.includes('jobservice_subscriptions_active{role="follower"} 1'))).toHaveLength(1);

      const owner = (await first.metrics.metrics()).includes('jobservice_subscriptions_active{role="owner"} 1') ? first : second;
      const survivor = owner === first ? second : first;
      await owner.close();
      world.sim.cancel(QUEUE, jobSetId, [jobId!]);
      expect(
        (
          await eventually(
            () => survivor.status(key),
            (a) => a.state === State.CANCELLED,
          )
        ).state,
      ).toBe(State.CANCELLED);
      const calls = streamCalls(world.sim, jobSetId);
      expect(calls.slice(1).every((c) => c.fromMessageId !== "")).toBe(true);
      expect(await survivor.metrics.metrics()).toMatch(/jobservice_subscriptions_active\{role="owner"\} 1/);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it("resume after the owner is killed with SIGKILL: another replica takes over from the stored cursor", async () => {
    const jobSetId = uniqueJobSet("kill");
    const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const key = { queue: QUEUE, jobSetId, jobId: jobId! };
    await eventually(() => world.sim.events(QUEUE, jobSetId).some((m) => m.message?.events.case === "running"), Boolean);
    const options = testOptions(world.sim.url, { leaseTtlMs: 600 });
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "test/subscriber/replica-process.ts", JSON.stringify({ store: world.fixture.spec, options, key })],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const exited = once(child, "exit");
    const survivor = startSubscriber(world.fixture.open(), testOptions(world.sim.url, { leaseTtlMs: 600 }));
    try {
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      await eventually(
        () => output,
        (text) => text.includes("following"),
        15_000,
      );
      expect(output).toContain(`following ${State.RUNNING}`);
      expect((await survivor.status(key)).state).toBe(State.RUNNING);
      await eventually(
        () => world.sim.openStreams({ queue: QUEUE, jobSetId }),
        (n) => n === 1,
      );
      // Several lease renewals later, the survivor still only reads.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(world.sim.openStreams({ queue: QUEUE, jobSetId })).toBe(1);
      const cursor = world.sim.events(QUEUE, jobSetId).at(-1)?.id;
      const callsBeforeKill = streamCalls(world.sim, jobSetId).length;

      child.kill("SIGKILL");
      await exited;
      world.sim.cancel(QUEUE, jobSetId, [jobId!]);
      expect(
        (
          await eventually(
            () => survivor.status(key),
            (a) => a.state === State.CANCELLED,
          )
        ).state,
      ).toBe(State.CANCELLED);
      const takeover = streamCalls(world.sim, jobSetId).slice(callsBeforeKill);
      expect(takeover[0]?.fromMessageId).toBe(cursor);
    } finally {
      child.kill("SIGKILL");
      await survivor.close();
    }
  });
});
