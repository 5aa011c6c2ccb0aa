import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createManualClock, startSimulator, type ManualClock, type Simulator, type TerminalState } from "../../src/simulator/index.js";
import { armadaClients, readStream } from "../support/simulator.js";

const TERMINAL: Record<string, TerminalState> = { succeeded: "succeeded", cancelled: "cancelled" };

describe("bulk load", () => {
  let clock: ManualClock;
  let sim: Simulator;

  beforeAll(async () => {
    clock = createManualClock();
    sim = await startSimulator({ clock, seed: 7, lifecycle: { failureProbability: 0.2, preemptionProbability: 0.1, retryProbability: 0.5 } });
  });
  afterAll(() => sim.close());

  it("appends at the target rate and ends with every job where its ground truth says", async () => {
    const load = sim.bulkLoad({ queue: "load", jobSets: 4, jobsPerSet: 25, eventsPerSecond: 1000 });
    expect(load.jobs).toHaveLength(100);
    expect(new Set(load.jobs.map((job) => job.jobSetId))).toEqual(new Set(["bulk-0", "bulk-1", "bulk-2", "bulk-3"]));

    clock.advance(100);
    // 100 ms at 1000 events/s allows 100 events; a step of two events may overshoot by one.
    expect(load.emitted()).toBeGreaterThanOrEqual(90);
    expect(load.emitted()).toBeLessThanOrEqual(101);
    clock.runAll();
    await load.done;
    expect(load.emitted()).toBe(load.totalEvents);

    // Replay every job set as a client would and fold it into final states.
    const clients = armadaClients(sim.url);
    const seen = new Map<string, string>();
    for (let set = 0; set < 4; set++) {
      const { messages } = await readStream((signal) => clients.events.getJobSetEvents({ queue: "load", id: `bulk-${set}` }, { signal }));
      for (const message of messages) {
        const events = message.message!.events;
        if (events.case === "failed" && !events.value.retryable) seen.set(events.value.jobId, "failed");
        const terminal = TERMINAL[events.case ?? ""];
        if (terminal) seen.set(events.value!.jobId, terminal);
      }
    }
    expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(load.jobs.map((job) => [job.jobId, job.outcome.state])));
    const states = new Set(load.jobs.map((job) => job.outcome.state));
    expect(states).toEqual(new Set(["succeeded", "failed"]));
  });

  it("refuses nonsense sizes and rates", () => {
    expect(() => sim.bulkLoad({ jobSets: 0, jobsPerSet: 1, eventsPerSecond: 10 })).toThrow(/jobSets/);
    expect(() => sim.bulkLoad({ jobSets: 1, jobsPerSet: 1, eventsPerSecond: 0 })).toThrow(/eventsPerSecond/);
  });
});
