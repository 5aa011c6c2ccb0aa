import { describe, expect, it } from "vitest";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobKey, JobStore } from "../../src/store/store.js";
import { CONCURRENT_CATCH_UPS } from "../../src/subscriber/index.js";
import { eventually, startSubscriber, streamCalls, testOptions, uniqueJobSet, useSimulatorAndStore, LONG_RUN } from "./harness.js";

const QUEUE = "catch-ups";

/**
 * The store, with every catch-up held at its first step (reading the job
 * set's stored progress) until `open()`: the catch-ups in flight are the
 * reads waiting here.
 */
function withHeldCatchUps(inner: JobStore) {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let held = 0;
  let progressReads = 0;
  const store: JobStore = {
    ...inner,
    readProgress: async (jobSet) => {
      progressReads++;
      held++;
      await gate;
      held--;
      return inner.readProgress(jobSet);
    },
  };
  return { store, open, held: () => held, progressReads: () => progressReads };
}

/**
 * Over a hundred histories are replayed at once here: on a loaded machine the simulator can go
 * quiet for longer than the harness's short idle and keep-alive timeouts, which these tests are not about.
 */
const PATIENT = { idleTimeoutMs: 30_000, keepaliveTimeoutMs: 10_000 };

describe("catch-ups when many job sets start at once", () => {
  const world = useSimulatorAndStore("memory", QUEUE);

  function submitJobSets(count: number): JobKey[] {
    return Array.from({ length: count }, () => {
      const jobSetId = uniqueJobSet("many");
      const [jobId] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
      return { queue: QUEUE, jobSetId, jobId: jobId! };
    });
  }

  it(`read at most ${CONCURRENT_CATCH_UPS} histories at once, and every job set waiting its turn still catches up`, async () => {
    const jobs = submitJobSets(CONCURRENT_CATCH_UPS + 8);
    const held = withHeldCatchUps(world.store);
    const sub = startSubscriber(held.store, testOptions(world.sim.url, { ...PATIENT, catchUpWaitMs: 20_000 }), "silent");
    try {
      const answers = Promise.all(jobs.map((job) => sub.status(job, 20_000)));
      await eventually(
        () => held.held(),
        (n) => n === CONCURRENT_CATCH_UPS,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(held.held()).toBe(CONCURRENT_CATCH_UPS);
      held.open();
      for (const answer of await answers) expect(answer.state === State.SUBMITTED || answer.state === State.RUNNING).toBe(true);
    } finally {
      held.open();
      await sub.close();
    }
  }, 60_000);

  it("answer a job set still waiting its turn with CONNECTION_ERR (history not read yet), never JOB_ID_NOT_FOUND", async () => {
    const jobs = submitJobSets(CONCURRENT_CATCH_UPS + 1);
    const held = withHeldCatchUps(world.store);
    const sub = startSubscriber(held.store, testOptions(world.sim.url, { ...PATIENT, catchUpWaitMs: 300 }), "silent");
    try {
      const first = jobs.slice(0, CONCURRENT_CATCH_UPS).map((job) => sub.status(job, 20_000));
      await eventually(
        () => held.held(),
        (n) => n === CONCURRENT_CATCH_UPS,
      );
      const waiting = jobs.at(-1)!;
      expect(await sub.status({ ...waiting, jobId: "no-such-job" })).toEqual({
        state: State.CONNECTION_ERR,
        error: "still reading the job set's event history from Armada",
      });
      expect(streamCalls(world.sim, waiting.jobSetId)).toEqual([]);
      held.open();
      await Promise.all(first);
      const answered = await eventually(
        () => sub.status(waiting),
        (answer) => answer.state !== State.CONNECTION_ERR,
      );
      expect([State.SUBMITTED, State.RUNNING]).toContain(answered.state);
    } finally {
      held.open();
      await sub.close();
    }
  });

  it("give up the turns of job sets that stop while waiting: they never read their history", async () => {
    const jobs = submitJobSets(CONCURRENT_CATCH_UPS + 4);
    const held = withHeldCatchUps(world.store);
    const sub = startSubscriber(held.store, testOptions(world.sim.url, { catchUpWaitMs: 50 }), "silent");
    await Promise.all(jobs.map((job) => sub.status(job)));
    await eventually(
      () => held.held(),
      (n) => n === CONCURRENT_CATCH_UPS,
    );
    const closing = sub.close();
    held.open();
    await closing;
    expect(held.progressReads()).toBe(CONCURRENT_CATCH_UPS);
    for (const job of jobs.slice(CONCURRENT_CATCH_UPS)) expect(streamCalls(world.sim, job.jobSetId)).toEqual([]);
  });
});
