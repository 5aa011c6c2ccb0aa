import { toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { EventStreamMessageSchema } from "../../src/gen/api/event_pb.js";
import { createManualClock, startSimulator, type Simulator } from "../../src/simulator/index.js";

const started: Simulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((sim) => sim.close()));
});

/** A scenario with every random branch likely to fire, run to its end on a manual clock. */
async function scenario(seed: number): Promise<{ ids: string[]; log: string[] }> {
  const clock = createManualClock();
  const sim = await startSimulator({
    seed,
    clock,
    queues: ["q"],
    lifecycle: { failureProbability: 0.3, preemptionProbability: 0.2, leaseReturnProbability: 0.3, retryProbability: 0.5 },
  });
  started.push(sim);
  const ids = sim.submit(
    "q",
    "s",
    Array.from({ length: 20 }, () => ({})),
  );
  clock.advance(5);
  ids.push(...sim.submit("q", "s", [{}, { annotations: { "armada-sim/exit-code": "3" } }]));
  sim.cancel("q", "s", [ids[3]!]);
  clock.runAll();
  const log = sim.events("q", "s").map((m) => Buffer.from(toBinary(EventStreamMessageSchema, m)).toString("base64"));
  return { ids, log };
}

describe("a seeded scenario", () => {
  it("replays byte for byte on the same seed and clock", async () => {
    const first = await scenario(42);
    const second = await scenario(42);
    expect(second.ids).toEqual(first.ids);
    expect(second.log).toEqual(first.log);
    expect(first.log.length).toBeGreaterThan(22 * 4);
  });

  it("differs under another seed", async () => {
    const first = await scenario(42);
    const other = await scenario(43);
    expect(other.ids).not.toEqual(first.ids);
    expect(other.log).not.toEqual(first.log);
  });
});

describe("on the system clock", () => {
  it("gives the same outcomes in submission order, however the submissions are spread in time", async () => {
    const lifecycle = { queuedMs: [1, 1], pendingMs: [1, 1], startMs: [1, 1], runMs: [1, 1], failureProbability: 0.4, preemptionProbability: 0.1 } as const;
    const outcomes = async (pauseMs: number) => {
      const sim = await startSimulator({ seed: 5, queues: ["q"], lifecycle });
      started.push(sim);
      for (let i = 0; i < 12; i++) {
        sim.submit("q", "s", [{}, {}]);
        if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
      return sim.jobs().map((job) => job.outcome);
    };
    const burst = await outcomes(0);
    const spread = await outcomes(3);
    expect(spread).toEqual(burst);
    expect(new Set(burst.map((o) => o.state)).size).toBeGreaterThan(1);
  });
});
