import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Cluster, Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobState, Jobs } from "../../src/gen/api/job_pb.js";
import { JobService, JobServiceResponse_State } from "../../src/gen/jobservice/jobservice_pb.js";
import { createManualClock, startSimulator, type Simulator } from "../../src/simulator/index.js";
import { externalUriKey } from "../../src/store/external-uri-index.js";
import { jobIndexKey } from "../../src/store/job-index.js";
import { openStore, type StoreSpec } from "../../src/store/open.js";
import type { JobSetKey, JobStore } from "../../src/store/store.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { startFullTestService } from "../support/service.js";
import { FAST_LIFECYCLE, jobsDone } from "../support/simulator.js";

const URI_ANNOTATION = "armadaproject.io/externalJobUri";
const NO_SURPRISES = { ...FAST_LIFECYCLE, failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 };
// A short lease, so the service notices a store loss in a quiet job set at its next renewal, within a second.
const FLAGS = ["--lease-ttl-ms", "1000", "--catch-up-wait-ms", "5000"];

/** The api.Jobs calls that reached the simulator, whatever the method. */
const queryCalls = (sim: Simulator) => sim.calls().filter((call) => call.method.startsWith("api.Jobs/")).length;

interface RealRedis {
  readonly spec: StoreSpec;
  readonly url: string;
  /** Loses everything the store held, as a restart without persistence would. */
  flushAll(): Promise<void>;
  /** Redis' own count of the bytes a key takes. */
  memoryUsage(key: string): Promise<number>;
  stop(): Promise<void>;
}

async function singleRedis(): Promise<RealRedis> {
  const server: RedisServer = await startRedisServer();
  const admin = new Redis(server.url);
  return {
    spec: { kind: "redis", url: server.url },
    url: server.url,
    flushAll: async () => void (await admin.flushall()),
    memoryUsage: async (key) => Number(await admin.memory("USAGE", key)),
    stop: async () => {
      admin.disconnect();
      await server.stop();
    },
  };
}

async function redisCluster(): Promise<RealRedis> {
  const cluster: RedisCluster = await startRedisCluster();
  const admin = new Cluster(cluster.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })));
  return {
    spec: { kind: "redis-cluster", url: cluster.url },
    url: cluster.url,
    flushAll: async () => void (await Promise.all(admin.nodes("master").map((node) => node.flushall()))),
    memoryUsage: async (key) => Number(await admin.memory("USAGE", key)),
    stop: async () => {
      admin.disconnect();
      await cluster.stop();
    },
  };
}

describe.each([
  ["Redis", singleRedis],
  ["Redis Cluster", redisCluster],
])("the external-job-URI index filled from the events the service follows (%s)", (_, startRedis) => {
  let sim: Simulator;
  let redis: RealRedis;
  let service: { url: string; stop(): Promise<void> };
  // A second client of the same store, to watch what the service wrote without asking it.
  let peek: JobStore;
  let viaService: Client<typeof Jobs>;
  let jobService: Client<typeof JobService>;

  beforeAll(async () => {
    sim = await startSimulator({ queues: ["q"], lifecycle: NO_SURPRISES });
    redis = await startRedis();
    service = await startFullTestService(sim.url, ["--store", redis.url, ...FLAGS]);
    peek = openStore(redis.spec, { ttlSeconds: 3600, logger: pino({ level: "silent" }) });
    viaService = createClient(Jobs, createGrpcTransport({ baseUrl: service.url }));
    jobService = createClient(JobService, createGrpcTransport({ baseUrl: service.url }));
  }, 60_000);
  afterAll(async () => {
    await peek?.close();
    await service?.stop();
    await redis?.stop();
    await sim?.close();
  });

  const settled = (ids: readonly (string | undefined)[]) => jobsDone(sim, ids);
  const indexed = (jobSet: JobSetKey, uri: string, ids: readonly (string | undefined)[]) =>
    expect.poll(() => peek.jobIdsOfExternalUri!(jobSet, uri), { timeout: 15_000 }).toEqual([...ids].sort());

  it("answers a job submitted straight to Armada by its URI from the cache once its job set is followed, and again after a store loss", async () => {
    const jobSet = { queue: "q", jobSetId: "direct" };
    const uri = "airflow://dag/direct/task/2026-12-07";
    // Not through the passthrough: the service learns of the URI from the job's own submitted event.
    const [tagged, plain] = sim.submit("q", "direct", [{ annotations: { [URI_ANNOTATION]: uri } }, {}]);
    await settled([tagged, plain]);
    // The job set is followed the job service's own way, which asks Armada's Query API nothing.
    await jobService.getJobStatus({ queue: "q", jobSetId: "direct", jobId: plain! });
    await indexed(jobSet, uri, [tagged]);
    await expect
      .poll(async () => (await jobService.getJobStatus({ queue: "q", jobSetId: "direct", jobId: tagged! })).state, { timeout: 10_000 })
      .toBe(JobServiceResponse_State.SUCCEEDED);

    const before = queryCalls(sim);
    const request = { queue: "q", jobset: "direct", externalJobUri: uri };
    expect((await viaService.getJobStatusUsingExternalJobUri(request)).jobStates).toEqual({ [tagged!]: JobState.SUCCEEDED });
    expect(queryCalls(sim)).toBe(before);

    // Everything is lost; nothing asks for the URI until the rebuild has read the job set's history again.
    const replays = () => sim.calls({ method: "api.Event/GetJobSetEvents" }).filter((call) => call.jobSetId === "direct" && call.fromMessageId === "").length;
    const replaysBefore = replays();
    await redis.flushAll();
    await expect.poll(replays, { timeout: 15_000 }).toBeGreaterThan(replaysBefore);
    await indexed(jobSet, uri, [tagged]);
    await expect.poll(async () => (await peek.readJobs(jobSet, [tagged!])).get(tagged!)?.armadaState, { timeout: 15_000 }).toBe(JobState.SUCCEEDED);
    expect((await viaService.getJobStatusUsingExternalJobUri(request)).jobStates).toEqual({ [tagged!]: JobState.SUCCEEDED });
    expect(queryCalls(sim)).toBe(before);
  }, 60_000);

  it("still reads a URI it never saw through from Armada, once", async () => {
    const uri = "airflow://dag/elsewhere/task";
    const [id] = sim.submit("q", "not-followed", [{ annotations: { [URI_ANNOTATION]: uri } }]);
    await settled([id]);
    const before = sim.calls({ method: "api.Jobs/GetJobStatusUsingExternalJobUri" }).length;
    const request = { queue: "q", jobset: "not-followed", externalJobUri: uri };
    expect((await viaService.getJobStatusUsingExternalJobUri(request)).jobStates).toEqual({ [id!]: JobState.SUCCEEDED });
    expect(sim.calls({ method: "api.Jobs/GetJobStatusUsingExternalJobUri" })).toHaveLength(before + 1);
  }, 30_000);

  it("costs the index a measured number of bytes per job with the annotation (MEMORY USAGE)", async () => {
    const jobSet = { queue: "q", jobSetId: "etl_daily__scheduled__2026-12-07T00:00:00+00:00" };
    const uris = Array.from({ length: 50 }, (_, i) => `airflow://etl_daily/extract_${String(i).padStart(3, "0")}/scheduled__2026-12-07T00:00:00+00:00`);
    const ids = sim.submit(
      "q",
      jobSet.jobSetId,
      uris.map((uri) => ({ annotations: { [URI_ANNOTATION]: uri } })),
    );
    await jobService.getJobStatus({ queue: "q", jobSetId: jobSet.jobSetId, jobId: ids[0]! });
    await indexed(jobSet, uris.at(-1)!, [ids.at(-1)]);
    await expect.poll(async () => (await peek.jobSetsOf!(ids)).size, { timeout: 15_000 }).toBe(ids.length);
    const jobIndex = await Promise.all(ids.map((id) => redis.memoryUsage(jobIndexKey(id))));
    const uriIndex = await Promise.all(uris.map((uri) => redis.memoryUsage(externalUriKey(jobSet, uri))));
    const mean = (sizes: number[]) => sizes.reduce((sum, size) => sum + size, 0) / sizes.length;
    console.log(
      `index bytes per job with an external job URI (${uris[0]!.length}-character URI, ${jobSet.jobSetId.length}-character job set): ` +
        `job-id entry ${mean(jobIndex)}, URI entry ${mean(uriIndex)}, together ${mean(jobIndex) + mean(uriIndex)} (MEMORY USAGE)`,
    );
    expect(mean(jobIndex) + mean(uriIndex)).toBeLessThan(600);
  }, 60_000);
});

describe("a URI read through from Armada while the store holds its job", () => {
  it("answers the store's state where Armada's (Lookout's) lags behind it", async () => {
    const clock = createManualClock(Date.now());
    // Armada's Query API sees only events a minute old: the job's submit, not its end.
    const sim = await startSimulator({ queues: ["q"], clock, lifecycle: NO_SURPRISES, queryLagMs: 60_000 });
    const redis = await singleRedis();
    const service = await startFullTestService(sim.url, ["--store", redis.url, ...FLAGS]);
    const admin = new Redis(redis.url);
    try {
      const viaService = createClient(Jobs, createGrpcTransport({ baseUrl: service.url }));
      const viaSimulator = createClient(Jobs, createGrpcTransport({ baseUrl: sim.url }));
      const jobService = createClient(JobService, createGrpcTransport({ baseUrl: service.url }));
      const jobSet = { queue: "q", jobSetId: "lagging" };
      const uri = "airflow://dag/lagging/task";
      const [id] = sim.submit("q", "lagging", [{ annotations: { [URI_ANNOTATION]: uri } }]);
      clock.advance(60_000);
      await expect
        .poll(async () => (await jobService.getJobStatus({ queue: "q", jobSetId: "lagging", jobId: id! })).state, { timeout: 10_000 })
        .toBe(JobServiceResponse_State.SUCCEEDED);
      expect((await viaSimulator.getJobStatus({ jobIds: [id!] })).jobStates).toEqual({ [id!]: JobState.QUEUED });
      // The URI's entry alone is gone (Redis evicts keys one by one), so the call goes to Armada.
      await expect.poll(() => admin.del(externalUriKey(jobSet, uri)), { timeout: 10_000 }).toBe(1);
      const before = sim.calls({ method: "api.Jobs/GetJobStatusUsingExternalJobUri" }).length;
      expect((await viaService.getJobStatusUsingExternalJobUri({ queue: "q", jobset: "lagging", externalJobUri: uri })).jobStates).toEqual({
        [id!]: JobState.SUCCEEDED,
      });
      expect(sim.calls({ method: "api.Jobs/GetJobStatusUsingExternalJobUri" })).toHaveLength(before + 1);
    } finally {
      admin.disconnect();
      await service.stop();
      await redis.stop();
      await sim.close();
    }
  }, 60_000);
});
