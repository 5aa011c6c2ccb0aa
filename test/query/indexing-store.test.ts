import { describe, expect, it } from "vitest";
import { withJobIndex } from "../../src/query/indexing-store.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { WriteRefused, type JobRecord, type JobStore } from "../../src/store/store.js";
import { after, FIRST, progress, record } from "../store/contract.js";

const jobSet = { queue: "q", jobSetId: "s" };
const jobs = (...ids: string[]): Map<string, JobRecord> => new Map(ids.map((id) => [id, record()]));

/** A memory store that counts the ids it was asked to index. */
function countingStore(now: () => number = Date.now): { store: JobStore; indexed: string[] } {
  const inner = createMemoryStore({ ttlSeconds: 3600, now });
  const indexed: string[] = [];
  return { store: { ...inner, indexJobs: (key, ids) => (indexed.push(...ids), inner.indexJobs!(key, ids)) }, indexed };
}

describe("a store that indexes the jobs it writes", () => {
  it("indexes each job once while its job set is followed", async () => {
    const { store: inner, indexed } = countingStore(() => 0);
    const store = withJobIndex(inner, (error) => expect.unreachable(String(error)));
    await store.write(jobSet, { jobs: jobs("a", "b"), progress: progress("1") }, FIRST);
    await store.write(jobSet, { jobs: jobs("b", "c"), progress: progress("2") }, after("1"));
    expect(indexed).toEqual(["a", "b", "c"]);
    expect(Object.fromEntries(await store.jobSetsOf!(["a", "c", "z"]))).toEqual({ a: jobSet, c: jobSet });
  });

  it("indexes every job again when the store lost them and the job set is replayed from nothing", async () => {
    let now = 0;
    const { store: inner, indexed } = countingStore(() => now);
    const store = withJobIndex(inner, (error) => expect.unreachable(String(error)));
    await store.write(jobSet, { jobs: jobs("a"), progress: progress("1") }, FIRST);
    now += 3_600_000;
    expect((await store.jobSetsOf!(["a"])).size).toBe(0);
    await store.write(jobSet, { jobs: jobs("a"), progress: progress("1") }, FIRST);
    expect(indexed).toEqual(["a", "a"]);
    expect(Object.fromEntries(await store.jobSetsOf!(["a"]))).toEqual({ a: jobSet });
  });

  it("indexes nothing for a write the guard refused", async () => {
    const { store: inner, indexed } = countingStore();
    const store = withJobIndex(inner, (error) => expect.unreachable(String(error)));
    await expect(store.write(jobSet, { jobs: jobs("x"), progress: progress("2") }, after("1"))).rejects.toBeInstanceOf(WriteRefused);
    expect(indexed).toEqual([]);
    expect((await store.jobSetsOf!(["x"])).size).toBe(0);
  });

  it("reports an index write that failed and still counts the job set's write", async () => {
    const inner = createMemoryStore({ ttlSeconds: 3600 });
    const errors: unknown[] = [];
    const store = withJobIndex({ ...inner, indexJobs: () => Promise.reject(new Error("index down")) }, (error) => errors.push(error));
    await store.write(jobSet, { jobs: jobs("a"), progress: progress("1") }, FIRST);
    expect((await store.readJobs(jobSet, ["a"])).size).toBe(1);
    expect(errors).toHaveLength(1);
  });
});
