import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { armadaClients, basicAuth } from "../support/simulator.js";

describe("api.QueueService/CreateQueue (armada-client 0.4.11+) and api.Submit/CreateQueue (older clients)", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterAll(() => sim.close());
  const queues = (authorization?: string) => armadaClients(sim.url, authorization).queues;

  it("creates a queue either way, and the other way then finds it exists", async () => {
    await queues().createQueue({ name: "new-style", priorityFactor: 1 });
    await expect(armadaClients(sim.url).submit.createQueue({ name: "new-style" })).rejects.toMatchObject({ code: Code.AlreadyExists });
    await armadaClients(sim.url).submit.createQueue({ name: "old-style" });
    await expect(queues().createQueue({ name: "old-style" })).rejects.toMatchObject({ code: Code.AlreadyExists });
    expect(sim.calls().map((call) => [call.method, call.queue, call.result])).toEqual([
      ["api.QueueService/CreateQueue", "new-style", "ok"],
      ["api.Submit/CreateQueue", "new-style", "already_exists"],
      ["api.Submit/CreateQueue", "old-style", "ok"],
      ["api.QueueService/CreateQueue", "old-style", "already_exists"],
    ]);
  });

  it("wants a name", async () => {
    await expect(queues().createQueue({ name: "" })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it("needs credentials when the simulator does", async () => {
    sim.faults.requireAuth([{ kind: "basic", user: "alice", password: "pw" }]);
    try {
      await expect(queues().createQueue({ name: "locked" })).rejects.toMatchObject({ code: Code.Unauthenticated });
      await queues(basicAuth("alice", "pw")).createQueue({ name: "locked" });
    } finally {
      sim.faults.disableAuth();
    }
  });
});
