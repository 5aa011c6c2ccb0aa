import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import type { EventInit } from "../../src/simulator/index.js";
import { MALFORMED_EVENTS, unknownCaseEvent } from "./event-builders.js";
import { STORE_KINDS, eventually, startSubscriber, streamCalls, testOptions, uniqueJobSet, useSimulatorAndStore, type TestSubscriber } from "./harness.js";

const QUEUE = "malformed";
const WARNING = "skipped a message from Armada that does not decode; the stream goes on after it";

function jobEvent(eventCase: "submitted" | "queued" | "leased" | "running" | "succeeded", jobId: string): EventInit {
  return { events: { case: eventCase, value: { jobId } } } as EventInit;
}

async function undecodableCount(service: TestSubscriber): Promise<number> {
  const match = /^jobservice_armada_undecodable_events_total (\d+)$/m.exec(await service.metrics.metrics());
  if (!match) throw new Error("jobservice_armada_undecodable_events_total is not exported");
  return Number(match[1]);
}

async function reconnects(service: TestSubscriber): Promise<string[]> {
  return (await service.metrics.metrics()).split("\n").filter((line) => line.startsWith("jobservice_armada_reconnects_total{"));
}

/** The subscriber's log lines at warn level or above, parsed. */
function warnings(service: TestSubscriber): Array<Record<string, unknown>> {
  return service
    .logs()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => Number(line.level) >= 40);
}

describe.each(STORE_KINDS)("events from Armada that do not decode, over the %s store", (kind) => {
  const world = useSimulatorAndStore(kind, QUEUE);

  it("are skipped, counted and logged while the stream goes on; the cursor moves past them, so a reconnect meets them no more", async () => {
    const jobSetId = uniqueJobSet("malformed");
    const cursor = () => world.store.readProgress({ queue: QUEUE, jobSetId }).then((p) => p?.cursor);
    const [early, late] = [Object.values(MALFORMED_EVENTS).slice(0, 2), Object.values(MALFORMED_EVENTS).slice(2)];
    world.sim.appendEvents(QUEUE, jobSetId, [jobEvent("submitted", "a"), jobEvent("queued", "a")]);
    const earlyIds = world.sim.appendRawEvents(QUEUE, jobSetId, early);
    world.sim.appendEvents(QUEUE, jobSetId, [jobEvent("leased", "a"), jobEvent("running", "a")]);
    const service = startSubscriber(world.store, testOptions(world.sim.url));
    const key = { queue: QUEUE, jobSetId, jobId: "a" };
    try {
      // In the history: the events around the bad ones are applied.
      expect(
        await eventually(
          () => service.status(key),
          (a) => a.state === State.RUNNING,
        ),
      ).toMatchObject({ state: State.RUNNING });
      expect((await world.store.read(key)).job).toMatchObject({ runAttempts: 1, lastEvent: "running" });
      expect(await undecodableCount(service)).toBe(early.length);

      // Live, and last: the cursor is stored past them, on the same stream.
      const lateIds = world.sim.appendRawEvents(QUEUE, jobSetId, late);
      await eventually(cursor, (c) => c === lateIds.at(-1));
      expect(await undecodableCount(service)).toBe(early.length + late.length);
      expect(streamCalls(world.sim, jobSetId).map((c) => c.watch)).toEqual([false, true]);
      expect(await reconnects(service)).toEqual([]);
      expect((await service.status(key)).state).toBe(State.RUNNING);

      const logged = warnings(service);
      expect(logged.map((line) => [line.msg, line.messageId])).toEqual([...earlyIds, ...lateIds].map((id) => [WARNING, id]));
      for (const line of logged) {
        expect(line).toMatchObject({ queue: QUEUE, jobSetId, bytes: expect.any(Number), error: expect.any(String) });
        expect(Object.keys(line).sort()).toEqual(["bytes", "error", "jobSetId", "level", "messageId", "msg", "queue", "service", "time"]);
      }

      // A forced reconnect resumes after the last bad message, and counts nothing twice.
      world.sim.faults.dropStreams(Code.Unavailable, "armada is restarting");
      await eventually(
        () => streamCalls(world.sim, jobSetId).length,
        (n) => n >= 4,
      );
      expect(streamCalls(world.sim, jobSetId)[2]).toMatchObject({ watch: false, fromMessageId: lateIds.at(-1) });
      world.sim.appendEvents(QUEUE, jobSetId, [jobEvent("succeeded", "a")]);
      expect(
        await eventually(
          () => service.status(key),
          (a) => a.state === State.SUCCEEDED,
        ),
      ).toMatchObject({ state: State.SUCCEEDED });
      expect(await undecodableCount(service)).toBe(early.length + late.length);
      expect(warnings(service).filter((line) => line.msg === WARNING)).toHaveLength(early.length + late.length);
    } finally {
      await service.close();
    }
  });

  it("but an event of a case this build does not know is skipped silently: no count, no warning", async () => {
    const jobSetId = uniqueJobSet("unknown-case");
    const cursor = () => world.store.readProgress({ queue: QUEUE, jobSetId }).then((p) => p?.cursor);
    world.sim.appendEvents(QUEUE, jobSetId, [jobEvent("submitted", "a"), jobEvent("running", "a")]);
    const [unknownId] = world.sim.appendRawEvents(QUEUE, jobSetId, [unknownCaseEvent("a")]);
    const service = startSubscriber(world.store, testOptions(world.sim.url));
    const key = { queue: QUEUE, jobSetId, jobId: "a" };
    try {
      expect((await service.status(key)).state).toBe(State.RUNNING);
      expect(await cursor()).toBe(unknownId);
      expect((await world.store.read(key)).job).toMatchObject({ lastEvent: "running" });
      world.sim.appendEvents(QUEUE, jobSetId, [jobEvent("succeeded", "a")]);
      expect(
        await eventually(
          () => service.status(key),
          (a) => a.state === State.SUCCEEDED,
        ),
      ).toMatchObject({ state: State.SUCCEEDED });
      expect(await undecodableCount(service)).toBe(0);
      expect(warnings(service)).toEqual([]);
      expect(streamCalls(world.sim, jobSetId)).toHaveLength(2);
    } finally {
      await service.close();
    }
  });
});
