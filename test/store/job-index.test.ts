import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { externalUriKey } from "../../src/store/external-uri-index.js";
import { jobIndexKey } from "../../src/store/job-index.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { createRedisStore } from "../../src/store/redis.js";
import type { JobStore } from "../../src/store/store.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";

const TTL_SECONDS = 3600;
const ULID = "01JF8Z3K5QW2X9V7N4M6B8C0D1";

describe("the job-id index in the memory store", () => {
  let now = 1_000_000;
  const store = createMemoryStore({ ttlSeconds: TTL_SECONDS, now: () => now });
  afterAll(() => store.close());

  it("names each indexed id's job set, leaves unknown ids out, and keeps ids that look like keys apart", async () => {
    await store.indexJobs!({ queue: "q:1", jobSetId: "{set}" }, ["a", "a:b"]);
    await store.indexJobs!({ queue: "q", jobSetId: "s" }, ["a%3Ab"]);
    const found = await store.jobSetsOf!(["a", "a:b", "a%3Ab", "missing"]);
    expect(Object.fromEntries(found)).toEqual({
      a: { queue: "q:1", jobSetId: "{set}" },
      "a:b": { queue: "q:1", jobSetId: "{set}" },
      "a%3Ab": { queue: "q", jobSetId: "s" },
    });
  });

  it("forgets an entry a TTL after its last write, like a job set", async () => {
    await store.indexJobs!({ queue: "q", jobSetId: "s" }, ["old"]);
    now += TTL_SECONDS * 1000 - 1;
    expect((await store.jobSetsOf!(["old"])).size).toBe(1);
    now += 1;
    expect((await store.jobSetsOf!(["old"])).size).toBe(0);
  });
});

describe("the job-id index in Redis", () => {
  let server: RedisServer;
  let admin: Redis;
  let store: JobStore;

  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url);
    store = createRedisStore({ url: server.url, ttlSeconds: TTL_SECONDS });
  });
  afterAll(async () => {
    await store?.close();
    admin?.disconnect();
    await server?.stop();
  });

  it("round-trips ids and job sets with every character the keys escape", async () => {
    await store.indexJobs!({ queue: "q:1", jobSetId: "{set}%" }, ["a", "a:b", "{x}"]);
    const found = await store.jobSetsOf!(["a", "a:b", "{x}", "missing"]);
    expect(Object.fromEntries(found)).toEqual({
      a: { queue: "q:1", jobSetId: "{set}%" },
      "a:b": { queue: "q:1", jobSetId: "{set}%" },
      "{x}": { queue: "q:1", jobSetId: "{set}%" },
    });
  });

  it("gives each entry the job sets' time to live", async () => {
    await store.indexJobs!({ queue: "q", jobSetId: "s" }, [ULID]);
    const ttl = await admin.ttl(jobIndexKey(ULID));
    expect(ttl).toBeGreaterThan(TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(TTL_SECONDS);
  });

  it("costs under 200 bytes of Redis memory per job (ULID id, Airflow-style job set)", async () => {
    const jobSet = { queue: "team-data", jobSetId: "etl_daily__scheduled__2026-12-07T00:00:00+00:00" };
    const ids = Array.from({ length: 1000 }, (_, i) => `${ULID.slice(0, 20)}${String(i).padStart(6, "0")}`);
    await store.indexJobs!(jobSet, ids);
    const sizes = await Promise.all(ids.slice(0, 50).map((id) => admin.memory("USAGE", jobIndexKey(id))));
    const perJob = sizes.reduce<number>((sum, size) => sum + Number(size), 0) / sizes.length;
    console.log(`job-id index: ${perJob} bytes per job (MEMORY USAGE of one entry, ${jobSet.queue}/${jobSet.jobSetId})`);
    expect(perJob).toBeLessThan(200);
  });

  it("costs under 400 bytes of Redis memory per external job URI of one job, with the job sets' time to live", async () => {
    const jobSet = { queue: "team-data", jobSetId: "etl_daily__scheduled__2026-12-07T00:00:00+00:00" };
    const uris = Array.from({ length: 50 }, (_, i) => `airflow://etl_daily/extract_${String(i).padStart(3, "0")}/scheduled__2026-12-07T00:00:00+00:00`);
    await store.indexExternalJobUris!(jobSet, new Map(uris.map((uri, i) => [`${ULID.slice(0, 20)}${String(i).padStart(6, "0")}`, uri])));
    const sizes = await Promise.all(uris.map((uri) => admin.memory("USAGE", externalUriKey(jobSet, uri))));
    const perUri = sizes.reduce<number>((sum, size) => sum + Number(size), 0) / sizes.length;
    console.log(`external-job-URI index: ${perUri} bytes per URI of one job (MEMORY USAGE, ${uris[0]!.length}-character URI)`);
    expect(perUri).toBeLessThan(400);
    const ttl = await admin.ttl(externalUriKey(jobSet, uris[0]!));
    expect(ttl).toBeGreaterThan(TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(TTL_SECONDS);
  });
});

describe("the external-job-URI index in the memory store", () => {
  let now = 1_000_000;
  const store = createMemoryStore({ ttlSeconds: TTL_SECONDS, now: () => now });
  afterAll(() => store.close());

  it("forgets an entry a TTL after its last write, and a write of any id keeps it", async () => {
    const jobSet = { queue: "q", jobSetId: "s" };
    await store.indexExternalJobUris!(jobSet, new Map([["a", "u"]]));
    now += TTL_SECONDS * 1000 - 1;
    await store.indexExternalJobUris!(jobSet, new Map([["b", "u"]]));
    now += TTL_SECONDS * 1000 - 1;
    await expect(store.jobIdsOfExternalUri!(jobSet, "u")).resolves.toEqual(["a", "b"]);
    now += 1;
    await expect(store.jobIdsOfExternalUri!(jobSet, "u")).resolves.toEqual([]);
  });
});
