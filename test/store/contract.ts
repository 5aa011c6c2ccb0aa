import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobLookup, JobRecord, JobSetKey, JobSetProgress, JobStore, WriteGuard } from "../../src/store/store.js";

/** A store opened for the contract, with a way to make time pass for it. */
export interface StoreUnderTest {
  readonly store: JobStore;
  /** Another handle on the same data (its own connection, where there is one), to watch writes from outside. */
  readonly reader: JobStore;
  /**
   * Makes `ms` pass for one job set's data and lease as the store sees time.
   * (The memory store's clock is global, so it ages every job set: cases
   * that age one job set must not depend on others staying young.)
   */
  elapse(jobSet: JobSetKey, ms: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens a store with the given time to live; called once per suite. */
export type StoreFactory = (options: { ttlSeconds: number }) => Promise<StoreUnderTest>;

export const CONTRACT_TTL_SECONDS = 100;
const TTL_MS = CONTRACT_TTL_SECONDS * 1000;
const SECOND = 1000;

export function record(overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    state: State.RUNNING,
    error: "",
    lastEvent: "running",
    messageId: "1732300000000:12:0:3",
    submittedAt: 1732300000000,
    startedAt: 1732300004321,
    cluster: "cluster-eu-1",
    node: "node-0042",
    runAttempts: 1,
    ...overrides,
  };
}

/** The guard of a first write: the store holds nothing for the job set yet. */
export const FIRST: WriteGuard = { expected: undefined, fence: 0 };

/** The guard of a first write by the holder of a lease with token `fence`. */
export function firstBy(fence = 0): WriteGuard {
  return { expected: undefined, fence };
}

/** The guard of a write that follows one which left `cursor`. */
export function after(cursor: string, fence = 0): WriteGuard {
  return { expected: cursor, fence };
}

/** What a lease that is held looks like. */
const HELD = { fence: expect.any(Number), stored: expect.any(Boolean) };

export function progress(cursor: string, overrides: Partial<JobSetProgress> = {}): JobSetProgress {
  return { cursor, caughtUp: true, error: "", updatedAt: 1732300009999, ...overrides };
}

/** A job set no other case uses, so cases share one store without seeing each other. */
export function freshJobSet(queue = "queue"): JobSetKey {
  return { queue, jobSetId: `set-${randomUUID()}` };
}

const HUGE = "x".repeat(100_000);
// Strings that numbers-by-default clients, JSON, byte handling or key building could change.
const NASTY = ["123", "1e5", "null", "true", "", '"quoted"', "back\\slash", '["x"]', "a:b", "{tag}", "%3A", "é😀", "\uD800", "\r\n", HUGE];

/** The shared cases every JobStore adapter must pass. */
export function describeStoreContract(name: string, open: StoreFactory): void {
  describe(`${name} store contract`, () => {
    let subject: StoreUnderTest;
    let store: JobStore;

    beforeAll(async () => {
      subject = await open({ ttlSeconds: CONTRACT_TTL_SECONDS });
      store = subject.store;
    });
    afterAll(async () => {
      await subject?.close();
    });

    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it("knows nothing of a job never written", async () => {
      const jobSet = freshJobSet();
      await expect(store.read({ ...jobSet, jobId: "nope" })).resolves.toStrictEqual({});
      await expect(store.readJobs(jobSet, ["nope", "neither"])).resolves.toStrictEqual(new Map());
    });

    it("reads back every field of what it wrote, exactly", async () => {
      const jobSet = freshJobSet();
      const full = record({
        state: State.FAILED,
        error: "oom-killed",
        finishedAt: 1732300009999.25,
        exitCode: -137,
        cause: "OOM",
        runAttempts: 3,
      });
      const minimal: JobRecord = { state: State.SUBMITTED, error: "", lastEvent: "submitted", messageId: "m1", runAttempts: 0 };
      await store.write(
        jobSet,
        {
          jobs: new Map([
            ["full", full],
            ["minimal", minimal],
          ]),
          progress: progress("c1", { caughtUp: false }),
        },
        FIRST,
      );
      await expect(store.read({ ...jobSet, jobId: "full" })).resolves.toStrictEqual({ job: full, progress: progress("c1", { caughtUp: false }) });
      await expect(store.read({ ...jobSet, jobId: "minimal" })).resolves.toStrictEqual({ job: minimal, progress: progress("c1", { caughtUp: false }) });
      await expect(store.read({ ...jobSet, jobId: "other" })).resolves.toStrictEqual({ progress: progress("c1", { caughtUp: false }) });
    });

    it("round-trips strings that look like numbers, JSON or broken text, in values and in ids", async () => {
      for (const text of NASTY) {
        const jobSet = { queue: `q${text}`, jobSetId: `s${text}` };
        const job = record({ error: text, lastEvent: text, messageId: text, cluster: text, node: text, cause: text });
        const cursor = progress(text, { error: text });
        const jobId = text === "" ? "j" : text;
        await store.write(jobSet, { jobs: new Map([[jobId, job]]), progress: cursor }, FIRST);
        await expect(store.read({ ...jobSet, jobId })).resolves.toStrictEqual({ job, progress: cursor });
        await expect(store.readJobs(jobSet, [jobId])).resolves.toStrictEqual(new Map([[jobId, job]]));
        await expect(store.readProgress(jobSet)).resolves.toStrictEqual(cursor);
      }
    });

    it("keeps the same job id apart in different queues and job sets, whatever the ids contain", async () => {
      const suffix = randomUUID();
      const jobSets: JobSetKey[] = [
        { queue: `a:b${suffix}`, jobSetId: "c" },
        { queue: "a", jobSetId: `b:c${suffix}` },
        { queue: `a${suffix}`, jobSetId: "b:c" },
        { queue: `{x}${suffix}`, jobSetId: "y" },
        { queue: `{x${suffix}`, jobSetId: "}y" },
        { queue: `%3A${suffix}`, jobSetId: "" },
        { queue: `:${suffix}`, jobSetId: "" },
        { queue: `\uD800${suffix}`, jobSetId: "s" },
        { queue: `\uFFFD${suffix}`, jobSetId: "s" },
        { queue: `q${suffix}`, jobSetId: "s1" },
        { queue: `q${suffix}`, jobSetId: "s2" },
      ];
      for (const [index, jobSet] of jobSets.entries()) {
        await store.write(jobSet, { jobs: new Map([["job", record({ runAttempts: index })]]), progress: progress(`c${index}`) }, FIRST);
      }
      for (const [index, jobSet] of jobSets.entries()) {
        await expect(store.read({ ...jobSet, jobId: "job" })).resolves.toStrictEqual({
          job: record({ runAttempts: index }),
          progress: progress(`c${index}`),
        });
      }
    });

    it("keeps job ids apart that only UTF-8 would confuse", async () => {
      const jobSet = freshJobSet();
      await store.write(
        jobSet,
        {
          jobs: new Map([
            ["\uD800", record({ node: "lone" })],
            ["\uFFFD", record({ node: "replacement" })],
          ]),
          progress: progress("c"),
        },
        FIRST,
      );
      const jobs = await store.readJobs(jobSet, ["\uD800", "\uFFFD"]);
      expect(jobs.get("\uD800")?.node).toBe("lone");
      expect(jobs.get("\uFFFD")?.node).toBe("replacement");
    });

    it("handles 100 KB queue, job set and job ids", async () => {
      const jobSet = { queue: `${HUGE}q`, jobSetId: `${HUGE}s` };
      await store.write(jobSet, { jobs: new Map([[`${HUGE}j`, record()]]), progress: progress("c") }, FIRST);
      await expect(store.read({ ...jobSet, jobId: `${HUGE}j` })).resolves.toStrictEqual({ job: record(), progress: progress("c") });
      await expect(store.read({ queue: `${HUGE}q`, jobSetId: HUGE, jobId: `${HUGE}j` })).resolves.toStrictEqual({});
    });

    it("merges later writes into the job set: updates jobs, keeps the others, replaces the progress", async () => {
      const jobSet = freshJobSet();
      await store.write(
        jobSet,
        {
          jobs: new Map([
            ["a", record()],
            ["b", record()],
          ]),
          progress: progress("c1"),
        },
        FIRST,
      );
      const done = record({ state: State.SUCCEEDED, lastEvent: "succeeded", finishedAt: 1732300010000, exitCode: 0 });
      await store.write(
        jobSet,
        {
          jobs: new Map([
            ["b", done],
            ["c", record()],
          ]),
          progress: progress("c2"),
        },
        after("c1"),
      );
      await store.write(jobSet, { jobs: new Map(), progress: progress("c3", { error: "stream broke" }) }, after("c2"));
      await expect(store.readJobs(jobSet, ["a", "b", "c"])).resolves.toStrictEqual(
        new Map([
          ["a", record()],
          ["b", done],
          ["c", record()],
        ]),
      );
      await expect(store.read({ ...jobSet, jobId: "b" })).resolves.toStrictEqual({ job: done, progress: progress("c3", { error: "stream broke" }) });
    });

    it("reads several jobs at once, leaving out the ones it does not have", async () => {
      const jobSet = freshJobSet();
      const jobs = new Map(Array.from({ length: 50 }, (_, i) => [`job-${i}`, record({ runAttempts: i })] as const));
      await store.write(jobSet, { jobs, progress: progress("c") }, FIRST);
      const asked = ["missing-1", "job-3", "job-49", "missing-2", "job-0"];
      await expect(store.readJobs(jobSet, asked)).resolves.toStrictEqual(
        new Map([
          ["job-3", record({ runAttempts: 3 })],
          ["job-49", record({ runAttempts: 49 })],
          ["job-0", record({ runAttempts: 0 })],
        ]),
      );
      await expect(store.readJobs(jobSet, [])).resolves.toStrictEqual(new Map());
    });

    it("reads listed jobs of a job set with its progress in one snapshot, duplicates and absent ids included", async () => {
      const jobSet = freshJobSet();
      const jobs = new Map(Array.from({ length: 1200 }, (_, i) => [`job-${i}`, record({ runAttempts: i })] as const));
      await store.write(jobSet, { jobs, progress: progress("c7", { error: "stream broke" }) }, FIRST);
      const asked = ["job-1199", "missing", "job-3", "job-3", ...Array.from({ length: 1100 }, (_, i) => `job-${i}`)];
      const lookup = await store.readJobSet(jobSet, asked);
      expect(lookup.progress).toStrictEqual(progress("c7", { error: "stream broke" }));
      expect(lookup.jobs.size).toBe(1101);
      expect(lookup.jobs.get("job-1199")).toStrictEqual(record({ runAttempts: 1199 }));
      expect(lookup.jobs.get("job-3")).toStrictEqual(record({ runAttempts: 3 }));
      expect(lookup.jobs.has("missing")).toBe(false);
      await expect(store.readJobSet(jobSet, [])).resolves.toStrictEqual({ jobs: new Map(), progress: progress("c7", { error: "stream broke" }) });
    });

    it("reads every job of a job set with its progress, whatever the ids contain", async () => {
      const jobSet = freshJobSet();
      const jobs = new Map(NASTY.filter((text) => text !== "").map((text, i) => [text, record({ runAttempts: i })] as const));
      await store.write(jobSet, { jobs, progress: progress("c1") }, FIRST);
      await expect(store.readJobSet(jobSet)).resolves.toStrictEqual({ jobs, progress: progress("c1") });
      await expect(store.readJobSet(freshJobSet())).resolves.toStrictEqual({ jobs: new Map() });
      await expect(store.readJobSet(freshJobSet(), ["a"])).resolves.toStrictEqual({ jobs: new Map() });
    });

    it("reads a job set's progress alone, and nothing for a job set never written", async () => {
      const jobSet = freshJobSet();
      await expect(store.readProgress(jobSet)).resolves.toBeUndefined();
      await store.write(jobSet, { jobs: new Map([["a", record()]]), progress: progress("c1", { caughtUp: false }) }, FIRST);
      await expect(store.readProgress(jobSet)).resolves.toStrictEqual(progress("c1", { caughtUp: false }));
      await store.write(jobSet, { jobs: new Map(), progress: progress("c2") }, after("c1"));
      await expect(store.readProgress(jobSet)).resolves.toStrictEqual(progress("c2"));
    });

    it("refuses a write carrying a job with an empty id, and writes nothing of it", async () => {
      const jobSet = freshJobSet();
      const jobs = new Map([
        ["a", record()],
        ["", record()],
      ]);
      await expect(store.write(jobSet, { jobs, progress: progress("c1") }, FIRST)).rejects.toThrow(/empty job id/);
      await expect(store.readProgress(jobSet)).resolves.toBeUndefined();
      await expect(store.read({ ...jobSet, jobId: "a" })).resolves.toStrictEqual({});
    });

    it("writes nothing at all when any job of a write cannot be stored", async () => {
      const jobSet = freshJobSet();
      const bad = record({ runAttempts: Number.NaN });
      await expect(
        store.write(
          jobSet,
          {
            jobs: new Map([
              ["good", record()],
              ["bad", bad],
            ]),
            progress: progress("c1"),
          },
          FIRST,
        ),
      ).rejects.toThrow(/runAttempts/);
      await expect(store.read({ ...jobSet, jobId: "good" })).resolves.toStrictEqual({});

      await store.write(jobSet, { jobs: new Map([["good", record()]]), progress: progress("c1") }, FIRST);
      await expect(
        store.write(
          jobSet,
          {
            jobs: new Map([
              ["good", record({ runAttempts: 2 })],
              ["bad", bad],
            ]),
            progress: progress("c2"),
          },
          after("c1"),
        ),
      ).rejects.toThrow();
      await expect(store.read({ ...jobSet, jobId: "good" })).resolves.toStrictEqual({ job: record(), progress: progress("c1") });
    });

    it("never shows a job without the cursor written with it, or the cursor without its jobs", async () => {
      const jobSet = freshJobSet();
      const batch = 500;
      for (let round = 1; round <= 5; round++) {
        const watched = { ...jobSet, jobId: `r${round}-${batch - 1}` };
        const jobs = new Map(Array.from({ length: batch }, (_, i) => [`r${round}-${i}`, record({ runAttempts: round })] as const));
        let written = false;
        const writing = store.write(jobSet, { jobs, progress: progress(`c${round}`) }, round > 1 ? after(`c${round - 1}`) : FIRST).then(() => (written = true));
        const seen: JobLookup[] = [];
        for (let poll = 0; poll < 200 && !written; poll++) seen.push(await subject.reader.read(watched));
        await writing;
        seen.push(await subject.reader.read(watched));
        for (const lookup of seen) {
          const before = round > 1 ? `c${round - 1}` : undefined;
          expect(lookup.progress?.cursor).toBe(lookup.job ? `c${round}` : before);
        }
        expect(seen[seen.length - 1]?.job).toStrictEqual(record({ runAttempts: round }));
      }
    });

    it("keeps a job set for its time to live after the last write, and each write starts it again", async () => {
      const jobSet = freshJobSet();
      const key = { ...jobSet, jobId: "j" };
      await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c1") }, FIRST);
      await subject.elapse(jobSet, TTL_MS - SECOND);
      expect((await store.read(key)).job).toStrictEqual(record());
      await store.write(jobSet, { jobs: new Map(), progress: progress("c2") }, after("c1"));
      await subject.elapse(jobSet, TTL_MS - SECOND);
      await expect(store.read(key)).resolves.toStrictEqual({ job: record(), progress: progress("c2") });
      await subject.elapse(jobSet, 2 * SECOND);
      await expect(store.read(key)).resolves.toStrictEqual({});
      await expect(store.readJobs(jobSet, ["j"])).resolves.toStrictEqual(new Map());
    });

    it("keeps an active job set alive while its lease is renewed", async () => {
      const jobSet = freshJobSet();
      const key = { ...jobSet, jobId: "j" };
      await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c1") }, FIRST);
      for (let renewal = 0; renewal < 3; renewal++) {
        await subject.elapse(jobSet, TTL_MS - SECOND);
        await expect(store.lease(jobSet, "replica-a", 30 * SECOND)).resolves.toMatchObject(HELD);
      }
      await subject.elapse(jobSet, TTL_MS - SECOND);
      await expect(store.read(key)).resolves.toStrictEqual({ job: record(), progress: progress("c1") });
      await subject.elapse(jobSet, 2 * SECOND);
      await expect(store.read(key)).resolves.toStrictEqual({});
    });

    it("gives a lease to one owner at a time, renewable by that owner only", async () => {
      const jobSet = freshJobSet();
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toMatchObject(HELD);
      await expect(store.lease(jobSet, "replica-b", 10 * SECOND)).resolves.toBeUndefined();
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toMatchObject(HELD);
      await subject.elapse(jobSet, 9 * SECOND);
      await expect(store.lease(jobSet, "replica-b", 10 * SECOND)).resolves.toBeUndefined();
      const other = freshJobSet();
      await expect(store.lease(other, "replica-b", 10 * SECOND)).resolves.toMatchObject(HELD);
      await store.release(other, "replica-b");
    });

    it("lets another owner take a lease that expired", async () => {
      const jobSet = freshJobSet();
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toMatchObject(HELD);
      await subject.elapse(jobSet, 10 * SECOND + 1);
      await expect(store.lease(jobSet, "replica-b", 10 * SECOND)).resolves.toMatchObject(HELD);
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toBeUndefined();
    });

    it("releases a lease only for its owner", async () => {
      const jobSet = freshJobSet();
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toMatchObject(HELD);
      await store.release(jobSet, "replica-b");
      await expect(store.lease(jobSet, "replica-b", 10 * SECOND)).resolves.toBeUndefined();
      await store.release(jobSet, "replica-a");
      await expect(store.lease(jobSet, "replica-b", 10 * SECOND)).resolves.toMatchObject(HELD);
      await store.release(jobSet, "nobody");
      await store.release(freshJobSet(), "replica-a");
    });

    it("tells owners apart whatever their names contain", async () => {
      const jobSet = freshJobSet();
      await expect(store.lease(jobSet, "\uD800", 10 * SECOND)).resolves.toMatchObject(HELD);
      await expect(store.lease(jobSet, "\uFFFD", 10 * SECOND)).resolves.toBeUndefined();
    });

    it("refuses a lease time that is not a positive whole number of milliseconds", async () => {
      const jobSet = freshJobSet();
      await expect(store.lease(jobSet, "replica-a", 0)).rejects.toThrow(/lease ttlMs must be a positive integer/);
      await expect(store.lease(jobSet, "replica-a", 1.5)).rejects.toThrow(/lease ttlMs/);
      await expect(store.lease(jobSet, "replica-b", 10 * SECOND)).resolves.toMatchObject(HELD);
    });

    it("refuses a write that expects what the store does not hold, and writes nothing of it", async () => {
      const jobSet = freshJobSet();
      await store.write(jobSet, { jobs: new Map([["a", record()]]), progress: progress("c1") }, FIRST);
      for (const guard of [FIRST, after("c0"), after("")]) {
        await expect(
          store.write(
            jobSet,
            {
              jobs: new Map([
                ["a", record({ runAttempts: 9 })],
                ["b", record()],
              ]),
              progress: progress("c9"),
            },
            guard,
          ),
        ).rejects.toMatchObject({
          name: "WriteRefused",
          reason: "stale",
          message: expect.stringMatching(/^write refused: the store no longer holds what this writer last saw of job set/),
        });
      }
      await expect(store.readJobs(jobSet, ["a", "b"])).resolves.toStrictEqual(new Map([["a", record()]]));
      await expect(store.read({ ...jobSet, jobId: "a" })).resolves.toStrictEqual({ job: record(), progress: progress("c1") });
      await store.write(jobSet, { jobs: new Map([["b", record()]]), progress: progress("c2") }, after("c1"));
      await expect(store.read({ ...jobSet, jobId: "b" })).resolves.toStrictEqual({ job: record(), progress: progress("c2") });
    });

    it("refuses a write against a job set that expired since, so a writer cannot go on as if nothing was lost", async () => {
      const jobSet = freshJobSet();
      await store.write(jobSet, { jobs: new Map([["a", record({ state: State.SUCCEEDED })]]), progress: progress("c1") }, FIRST);
      await subject.elapse(jobSet, TTL_MS + SECOND);
      await expect(store.write(jobSet, { jobs: new Map([["b", record()]]), progress: progress("c2") }, after("c1"))).rejects.toMatchObject({ reason: "stale" });
      // Nothing half-written: not b without a, not a cursor without the jobs before it.
      await expect(store.read({ ...jobSet, jobId: "b" })).resolves.toStrictEqual({});
      await store.write(jobSet, { jobs: new Map([["a", record({ state: State.SUCCEEDED })]]), progress: progress("c1") }, FIRST);
      await expect(store.read({ ...jobSet, jobId: "a" })).resolves.toStrictEqual({ job: record({ state: State.SUCCEEDED }), progress: progress("c1") });
    });

    it("hands out fencing tokens that grow with every new holder, and keeps a holder's token while it renews", async () => {
      const jobSet = freshJobSet();
      const first = await store.lease(jobSet, "replica-a", 10 * SECOND);
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toStrictEqual(first);
      await subject.elapse(jobSet, 10 * SECOND + 1);
      const second = await store.lease(jobSet, "replica-b", 10 * SECOND);
      expect(second?.fence).toBeGreaterThan(first?.fence ?? Number.POSITIVE_INFINITY);
      await store.release(jobSet, "replica-b");
      const third = await store.lease(jobSet, "replica-a", 10 * SECOND);
      expect(third?.fence).toBeGreaterThan(second?.fence ?? Number.POSITIVE_INFINITY);
      expect(Number.isSafeInteger(third?.fence)).toBe(true);
    });

    it("fences off a writer whose lease was taken over: it can neither write after the new holder nor move the cursor back", async () => {
      const jobSet = freshJobSet();
      const old = await store.lease(jobSet, "replica-a", 10 * SECOND);
      await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c1") }, firstBy(old?.fence));
      await subject.elapse(jobSet, 10 * SECOND + 1);
      const next = await store.lease(jobSet, "replica-b", 10 * SECOND);
      const done = record({ state: State.SUCCEEDED, lastEvent: "succeeded" });
      await store.write(jobSet, { jobs: new Map([["j", done]]), progress: progress("c2") }, after("c1", next?.fence));
      for (const guard of [after("c1", old?.fence), after("c2", old?.fence)]) {
        await expect(store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c1") }, guard)).rejects.toMatchObject({
          name: "WriteRefused",
          reason: "fenced",
          message: expect.stringMatching(/^write refused: a newer lease holder has written job set/),
        });
      }
      await expect(store.read({ ...jobSet, jobId: "j" })).resolves.toStrictEqual({ job: done, progress: progress("c2") });
    });

    it("says with each lease whether the store holds the job set's data", async () => {
      const jobSet = freshJobSet();
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toMatchObject({ stored: false });
      await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c1") }, FIRST);
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toMatchObject({ stored: true });
      await subject.elapse(jobSet, TTL_MS + SECOND);
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toMatchObject({ stored: false });
    });

    it("says with each lease the cursor the store holds and the token that wrote it, so a holder sees the store go back in time", async () => {
      const jobSet = freshJobSet();
      const lease = await store.lease(jobSet, "replica-a", 10 * SECOND);
      expect(lease?.holds).toBeUndefined();
      await store.write(jobSet, { jobs: new Map([["j", record()]]), progress: progress("c1") }, firstBy(lease?.fence));
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toStrictEqual({
        fence: lease?.fence,
        stored: true,
        holds: { cursor: "c1", fence: lease?.fence },
      });
      await store.write(jobSet, { jobs: new Map(), progress: progress("c2") }, after("c1", lease?.fence));
      await expect(store.lease(jobSet, "replica-a", 10 * SECOND)).resolves.toMatchObject({ holds: { cursor: "c2", fence: lease?.fence } });
    });

    it("refuses a fencing token that is not a non-negative whole number", async () => {
      const jobSet = freshJobSet();
      for (const fence of [-1, 1.5, Number.NaN, 2 ** 53]) {
        await expect(store.write(jobSet, { jobs: new Map(), progress: progress("c") }, { expected: undefined, fence })).rejects.toThrow(
          /fencing token must be a non-negative integer/,
        );
      }
      await expect(store.read({ ...jobSet, jobId: "j" })).resolves.toStrictEqual({});
    });

    it("indexes external job URIs per job set, only ever adding ids, with every character the keys escape", async () => {
      const jobSet = freshJobSet("q:{1}%");
      const other = freshJobSet("q:{1}%");
      const uri = "airflow://dag:{run}/task%1";
      await store.indexExternalJobUris!(
        jobSet,
        new Map([
          ["b", uri],
          ["a:{x}", uri],
          ["c", "airflow://other"],
        ]),
      );
      await store.indexExternalJobUris!(
        jobSet,
        new Map([
          ["a:{x}", uri],
          ["d", uri],
        ]),
      );
      await store.indexExternalJobUris!(other, new Map([["e", uri]]));
      await expect(store.jobIdsOfExternalUri!(jobSet, uri)).resolves.toEqual(["a:{x}", "b", "d"]);
      await expect(store.jobIdsOfExternalUri!(jobSet, "airflow://other")).resolves.toEqual(["c"]);
      await expect(store.jobIdsOfExternalUri!(other, uri)).resolves.toEqual(["e"]);
      await expect(store.jobIdsOfExternalUri!(jobSet, "airflow://never")).resolves.toEqual([]);
      await expect(subject.reader.jobIdsOfExternalUri!(jobSet, uri)).resolves.toEqual(["a:{x}", "b", "d"]);
    });

    // Last: it closes the store the other cases share.
    it("rejects every call once closed, and can be closed twice", async () => {
      const jobSet = freshJobSet();
      await store.close();
      await store.close();
      await expect(store.ping()).rejects.toThrow(/closed/);
      await expect(store.read({ ...jobSet, jobId: "j" })).rejects.toThrow(/closed/);
      await expect(store.readJobs(jobSet, ["j"])).rejects.toThrow(/closed/);
      await expect(store.readJobSet(jobSet)).rejects.toThrow(/closed/);
      await expect(store.readProgress(jobSet)).rejects.toThrow(/closed/);
      await expect(store.write(jobSet, { jobs: new Map(), progress: progress("c") }, FIRST)).rejects.toThrow(/closed/);
      await expect(store.lease(jobSet, "replica-a", 1000)).rejects.toThrow(/closed/);
      await expect(store.release(jobSet, "replica-a")).rejects.toThrow(/closed/);
      await expect(store.indexExternalJobUris!(jobSet, new Map([["j", "u"]]))).rejects.toThrow(/closed/);
      await expect(store.jobIdsOfExternalUri!(jobSet, "u")).rejects.toThrow(/closed/);
    });
  });
}
