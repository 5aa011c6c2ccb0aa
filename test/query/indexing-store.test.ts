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

describe("a store that indexes the external job URIs its writes carry", () => {
  const uris = (entries: Record<string, string>): Map<string, string> => new Map(Object.entries(entries));

  it("indexes them once the guarded write succeeded, and again when the job set is replayed from nothing", async () => {
    let now = 0;
    const store = withJobIndex(createMemoryStore({ ttlSeconds: 3600, now: () => now }), (error) => expect.unreachable(String(error)));
    await store.write(jobSet, { jobs: jobs("a", "b"), progress: progress("1"), externalJobUris: uris({ a: "airflow://t", b: "airflow://u" }) }, FIRST);
    await store.write(jobSet, { jobs: jobs("c"), progress: progress("2"), externalJobUris: uris({ c: "airflow://t" }) }, after("1"));
    await expect(store.jobIdsOfExternalUri!(jobSet, "airflow://t")).resolves.toEqual(["a", "c"]);
    now += 3_600_000;
    await expect(store.jobIdsOfExternalUri!(jobSet, "airflow://t")).resolves.toEqual([]);
    await store.write(jobSet, { jobs: jobs("a"), progress: progress("1"), externalJobUris: uris({ a: "airflow://t" }) }, FIRST);
    await expect(store.jobIdsOfExternalUri!(jobSet, "airflow://t")).resolves.toEqual(["a"]);
  });

  it("indexes none for a write the guard refused, as stale or fenced", async () => {
    const store = withJobIndex(createMemoryStore({ ttlSeconds: 3600 }), (error) => expect.unreachable(String(error)));
    await expect(
      store.write(jobSet, { jobs: jobs("x"), progress: progress("2"), externalJobUris: uris({ x: "airflow://x" }) }, after("1")),
    ).rejects.toMatchObject({
      reason: "stale",
    });
    await store.write(jobSet, { jobs: jobs("a"), progress: progress("1") }, { expected: undefined, fence: 5 });
    await expect(
      store.write(jobSet, { jobs: jobs("y"), progress: progress("2"), externalJobUris: uris({ y: "airflow://x" }) }, { expected: "1", fence: 4 }),
    ).rejects.toMatchObject({
      reason: "fenced",
    });
    await expect(store.jobIdsOfExternalUri!(jobSet, "airflow://x")).resolves.toEqual([]);
  });

  it("reports a URI index write that failed and still counts the job set's write and its job-id index", async () => {
    const inner = createMemoryStore({ ttlSeconds: 3600 });
    const errors: unknown[] = [];
    const store = withJobIndex({ ...inner, indexExternalJobUris: () => Promise.reject(new Error("uri index down")) }, (error) => errors.push(error));
    await store.write(jobSet, { jobs: jobs("a"), progress: progress("1"), externalJobUris: uris({ a: "airflow://t" }) }, FIRST);
    expect((await store.readJobs(jobSet, ["a"])).size).toBe(1);
    expect(Object.fromEntries(await store.jobSetsOf!(["a"]))).toEqual({ a: jobSet });
    expect(errors).toEqual([new Error("uri index down")]);
  });
});
