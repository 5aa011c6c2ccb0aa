import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { withJobIndex } from "../../src/query/indexing-store.js";
import { jobSetKeys } from "../../src/store/keys.js";
import type { JobKey } from "../../src/store/store.js";
import {
  TTL_SECONDS,
  eventually,
  startSubscriber,
  streamCalls,
  testOptions,
  uniqueJobSet,
  useSimulatorAndStore,
  LONG_RUN,
  type StoreFixture,
  type StoreKind,
  type TestSubscriber,
} from "./harness.js";

const QUEUE = "loss";
const SHORT_RUN = { annotations: { "armada-sim/duration-ms": "10" } };
const TERMINAL: ReadonlySet<State> = new Set([State.SUCCEEDED, State.FAILED, State.CANCELLED, State.DUPLICATE_FOUND]);

/** How a store loses a job set: all of Redis, only the job set's key (eviction), or the memory store's expiry. */
type Loss = "FLUSHALL" | "the job set's key" | "expiry";

const CASES: readonly (readonly [StoreKind, Loss])[] = [
  ["redis", "FLUSHALL"],
  ["redis", "the job set's key"],
  ["upstash", "FLUSHALL"],
  ["upstash", "the job set's key"],
  ["memory", "expiry"],
];

async function lose(fixture: StoreFixture, loss: Loss, jobSetId: string): Promise<void> {
  if (loss === "expiry") {
    fixture.advanceClock!((TTL_SECONDS + 1) * 1000);
    return;
  }
  const admin = new Redis(fixture.redisUrl!);
  try {
    if (loss === "FLUSHALL") await admin.flushall();
    else expect(await admin.del(jobSetKeys({ queue: QUEUE, jobSetId }).jobs)).toBe(1);
  } finally {
    admin.disconnect();
  }
}

/**
 * Asks for every job in `keys()` back to back until stopped, and keeps every
 * answer that would be a lie: a terminal state other than the job's true one,
 * or JOB_ID_NOT_FOUND for a job the stream has shown.
 */
function watchForLies(service: TestSubscriber, keys: () => readonly (JobKey & { truth?: State })[]) {
  const lies: string[] = [];
  let answers = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      for (const key of keys()) {
        const answer = await service.status(key, 2_000).catch(() => undefined);
        if (!answer) continue;
        answers++;
        const wrongTerminal = TERMINAL.has(answer.state) && key.truth !== undefined && answer.state !== key.truth;
        if (answer.state === State.JOB_ID_NOT_FOUND || wrongTerminal) lies.push(`${key.jobId}: ${State[answer.state]} ${answer.error}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    lies,
    answers: () => answers,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe.each(CASES)("a job set the %s store loses (%s) while it is followed", (kind, loss) => {
  const world = useSimulatorAndStore(kind, QUEUE);

  it("is rebuilt from Armada's history when new events come: a finished job is never reported missing", async () => {
    const jobSetId = uniqueJobSet("lost");
    const [a, b] = world.sim.submit(QUEUE, jobSetId, [SHORT_RUN, LONG_RUN]);
    const key = (jobId: string | undefined, truth?: State) => ({ queue: QUEUE, jobSetId, jobId: jobId!, truth });
    const service = startSubscriber(world.store, testOptions(world.sim.url));
    const watched = [key(a, State.SUCCEEDED), key(b, State.CANCELLED)];
    const watcher = watchForLies(service, () => watched);
    try {
      await eventually(
        () => service.status(key(a)),
        (answer) => answer.state === State.SUCCEEDED,
      );
      await eventually(
        () => service.status(key(b)),
        (answer) => answer.state === State.RUNNING,
      );
      const replaysBefore = streamCalls(world.sim, jobSetId).filter((call) => call.fromMessageId === "").length;

      await lose(world.fixture, loss, jobSetId);
      // Between the loss and the rebuild nobody is told that A does not exist.
      const during = await service.status(key(a));
      expect([State.SUCCEEDED, State.CONNECTION_ERR]).toContain(during.state);

      // New events arrive: B finishes, C starts.
      world.sim.cancel(QUEUE, jobSetId, [b!]);
      const [c] = world.sim.submit(QUEUE, jobSetId, [LONG_RUN]);
      watched.push(key(c));
      await eventually(
        () => service.status(key(b)),
        (answer) => answer.state === State.CANCELLED,
      );
      await eventually(
        () => service.status(key(c)),
        (answer) => answer.state === State.RUNNING,
      );
      await eventually(
        () => service.status(key(a)),
        (answer) => answer.state === State.SUCCEEDED,
      );
      await eventually(
        () => watcher.answers(),
        (n) => n > 20,
      );
      await watcher.stop();

      expect(watcher.lies).toEqual([]);
      // The job set was read again from the start of its history, and that is visible in the metrics.
      expect(streamCalls(world.sim, jobSetId).filter((call) => call.fromMessageId === "").length).toBeGreaterThan(replaysBefore);
      expect(await service.metrics.metrics()).toMatch(/jobservice_store_job_set_losses_total [1-9]/);
      expect(service.logs()).toContain("the store lost the job set's data; rebuilding it from Armada's history");
    } finally {
      await watcher.stop();
      await service.close();
    }
  });

  it("is rebuilt at the next lease renewal when no event comes, and meanwhile answers CONNECTION_ERR, not JOB_ID_NOT_FOUND", async () => {
    const jobSetId = uniqueJobSet("quiet-loss");
    const [a, b] = world.sim.submit(QUEUE, jobSetId, [SHORT_RUN, LONG_RUN]);
    const key = (jobId: string | undefined) => ({ queue: QUEUE, jobSetId, jobId: jobId! });
    const service = startSubscriber(world.store, testOptions(world.sim.url, { idleTimeoutMs: 60_000 }));
    const watcher = watchForLies(service, () => [{ ...key(a), truth: State.SUCCEEDED }, key(b)]);
    try {
      await eventually(
        () => service.status(key(a)),
        (answer) => answer.state === State.SUCCEEDED,
      );
      await eventually(
        () => service.status(key(b)),
        (answer) => answer.state === State.RUNNING,
      );
      await lose(world.fixture, loss, jobSetId);
      const seen = new Set<State>();
      await eventually(
        async () => {
          const answer = await service.status(key(a));
          seen.add(answer.state);
          return answer;
        },
        (answer) => answer.state === State.SUCCEEDED && seen.size > 0,
      );
      await eventually(
        () => service.status(key(b)),
        (answer) => answer.state === State.RUNNING,
      );
      await watcher.stop();
      expect(watcher.lies).toEqual([]);
      expect(await service.metrics.metrics()).toMatch(/jobservice_store_job_set_losses_total [1-9]/);
    } finally {
      await watcher.stop();
      await service.close();
    }
  });

  it("indexes its jobs' external job URIs from their submitted events, and indexes them again in the rebuild", async () => {
    const jobSetId = uniqueJobSet("uri-loss");
    const jobSet = { queue: QUEUE, jobSetId };
    const uri = `airflow://dag/${jobSetId}/task`;
    const [a] = world.sim.submit(QUEUE, jobSetId, [{ annotations: { ...SHORT_RUN.annotations, "armadaproject.io/externalJobUri": uri } }, LONG_RUN]);
    const store = withJobIndex(world.store, (error) => expect.unreachable(String(error)));
    const service = startSubscriber(store, testOptions(world.sim.url, { idleTimeoutMs: 60_000 }));
    try {
      await eventually(
        () => service.status({ ...jobSet, jobId: a! }),
        (answer) => answer.state === State.SUCCEEDED,
      );
      await eventually(
        () => store.jobIdsOfExternalUri!(jobSet, uri),
        (ids) => ids.length === 1 && ids[0] === a,
      );
      // Losing only the job set's key leaves the URI's entry in place; every other loss takes it too.
      await lose(world.fixture, loss, jobSetId);
      await eventually(
        () => service.metrics.metrics(),
        (text) => /jobservice_store_job_set_losses_total [1-9]/.test(text),
      );
      await eventually(
        () => store.jobIdsOfExternalUri!(jobSet, uri),
        (ids) => ids.length === 1 && ids[0] === a,
      );
    } finally {
      await service.close();
    }
  });
});
