import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareMessageIds, startSimulator, type Simulator } from "../../src/simulator/index.js";
import { armadaClients, caseOf, eventually, queuedEvent, readStream, type ArmadaClients } from "../support/simulator.js";

describe("GetJobSetEvents", () => {
  let sim: Simulator;
  let clients: ArmadaClients;

  beforeAll(async () => {
    sim = await startSimulator({ queues: ["q"] });
    clients = armadaClients(sim.url);
  });
  afterAll(() => sim.close());

  const read = (
    request: { id: string; queue?: string; watch?: boolean; fromMessageId?: string; errorIfMissing?: boolean },
    limits?: { count?: number; timeoutMs?: number },
  ) => readStream((signal) => clients.events.getJobSetEvents({ queue: "q", ...request }, { signal }), limits);

  it("with watch=false sends the backlog in order and ends OK", async () => {
    const ids = [...sim.appendEvents("q", "backlog", [queuedEvent("a"), queuedEvent("b")]), ...sim.appendEvents("q", "backlog", [queuedEvent("c")])];
    const { messages, ended } = await read({ id: "backlog" });
    expect(ended).toBe(true);
    expect(messages.map((m) => m.id)).toEqual(ids);
    expect(messages.map((m) => m.message?.events.value?.jobId)).toEqual(["a", "b", "c"]);
  });

  it("gives ids in Armada's millis:seq:sub:last form, increasing both numerically and as strings", () => {
    const ids = [...sim.appendEvents("q", "ids", [queuedEvent("a"), queuedEvent("b"), queuedEvent("c")]), ...sim.appendEvents("q", "ids", [queuedEvent("d")])];
    for (const id of ids) expect(id).toMatch(/^\d{13}:\d{6}:\d{6}:[01]$/);
    expect(ids.map((id) => id.endsWith(":1"))).toEqual([false, false, true, true]);
    for (let i = 1; i < ids.length; i++) {
      expect(compareMessageIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
      expect(ids[i - 1]! < ids[i]!).toBe(true);
    }
  });

  it("resumes strictly after from_message_id, also inside one event sequence", async () => {
    const ids = sim.appendEvents("q", "resume", [queuedEvent("a"), queuedEvent("b"), queuedEvent("c")]);
    const later = sim.appendEvents("q", "resume", [queuedEvent("d")]);
    const { messages } = await read({ id: "resume", fromMessageId: ids[1] });
    expect(messages.map((m) => m.id)).toEqual([ids[2], ...later]);
    const none = await read({ id: "resume", fromMessageId: later[0] });
    expect(none).toEqual({ messages: [], ended: true });
  });

  it("with watch=true sends the backlog, then live events, and stays open", async () => {
    sim.appendEvents("q", "live", [queuedEvent("a")]);
    const reading = read({ id: "live", watch: true }, { count: 3, timeoutMs: 3000 });
    setTimeout(() => sim.appendEvents("q", "live", [queuedEvent("b"), queuedEvent("c")]), 50);
    const { messages, ended } = await reading;
    expect(ended).toBe(false);
    expect(messages.map((m) => m.message?.events.value?.jobId)).toEqual(["a", "b", "c"]);

    const quiet = await read({ id: "live", watch: true }, { timeoutMs: 300 });
    expect(quiet.ended).toBe(false);
    expect(quiet.messages).toHaveLength(3);
    // A client that cancels leaves no stream behind.
    await eventually(() => sim.openStreams({ jobSetId: "live" }) === 0);
  });

  it("waits for a missing job set unless errorIfMissing is set", async () => {
    await expect(read({ id: "not-yet", errorIfMissing: true, watch: true })).rejects.toMatchObject({ code: Code.NotFound });
    const reading = read({ id: "not-yet", watch: true }, { count: 1, timeoutMs: 3000 });
    setTimeout(() => sim.appendEvents("q", "not-yet", [queuedEvent("a")]), 50);
    const { messages } = await reading;
    expect(messages.map(caseOf)).toEqual(["queued"]);
  });

  it("ends at once, empty, for a missing job set without watch", async () => {
    expect(await read({ id: "never" })).toEqual({ messages: [], ended: true });
  });

  it("answers NOT_FOUND for an unknown queue and INVALID_ARGUMENT for a malformed id", async () => {
    const unknownQueue = await read({ id: "x", queue: "nope" }).catch((e: unknown) => ConnectError.from(e));
    expect(unknownQueue).toMatchObject({ code: Code.NotFound });
    const badId = await read({ id: "backlog", fromMessageId: "not-an-id" }).catch((e: unknown) => ConnectError.from(e));
    expect(badId).toMatchObject({ code: Code.InvalidArgument });
  });

  it("keeps job sets of the same name apart per queue", async () => {
    sim.createQueue("other");
    sim.appendEvents("other", "shared-name", [queuedEvent("other-job")]);
    sim.appendEvents("q", "shared-name", [queuedEvent("q-job")]);
    const { messages } = await read({ id: "shared-name" });
    expect(messages.map((m) => m.message?.events.value?.jobId)).toEqual(["q-job"]);
  });

  it("reports healthy on both services", async () => {
    expect((await clients.events.health({})).status).toBe(1);
    expect((await clients.submit.health({})).status).toBe(1);
  });
});
