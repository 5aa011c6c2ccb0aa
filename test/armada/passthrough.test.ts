import { Code, createClient } from "@connectrpc/connect";
import { compressionGzip, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event } from "../../src/gen/api/event_pb.js";
import { JobState, Jobs } from "../../src/gen/api/job_pb.js";
import { Submit } from "../../src/gen/api/submit_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { startFullTestService } from "../support/service.js";
import { basicAuth, eventually, FAST_LIFECYCLE, readStream } from "../support/simulator.js";

const USER = { user: "alice", password: "s3cret" };
const AUTH = basicAuth(USER.user, USER.password);

function clients(baseUrl: string, authorization?: string) {
  const transport = createGrpcTransport({
    baseUrl,
    interceptors: [(next) => (request) => (authorization && request.header.set("authorization", authorization), next(request))],
  });
  return { submit: createClient(Submit, transport), events: createClient(Event, transport), jobs: createClient(Jobs, transport) };
}

describe("Armada's API passed through the service", () => {
  let sim: Simulator;
  let service: { url: string; stop(): Promise<void> };

  beforeAll(async () => {
    sim = await startSimulator({
      queues: ["q"],
      lifecycle: { ...FAST_LIFECYCLE, failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 },
      credentials: [{ kind: "basic", ...USER }],
    });
    service = await startFullTestService(sim.url, ["--armada-passthrough", "true", "--armada-username", USER.user, "--armada-password", USER.password]);
  });
  afterAll(async () => {
    await service?.stop();
    await sim?.close();
  });

  it("submits with the caller's own credentials, and Armada's refusal of a bad one reaches the caller as Armada's", async () => {
    const response = await clients(service.url, AUTH).submit.submitJobs({ queue: "q", jobSetId: "through", jobRequestItems: [{}] });
    expect(response.jobResponseItems).toHaveLength(1);
    expect(sim.calls({ method: "api.Submit/SubmitJobs" }).at(-1)?.authorization).toBe(AUTH);
    const refusedHere = clients(service.url, basicAuth("alice", "wrong")).submit.submitJobs({ queue: "q", jobSetId: "through", jobRequestItems: [{}] });
    const refusedThere = clients(sim.url, basicAuth("alice", "wrong")).submit.submitJobs({ queue: "q", jobSetId: "through", jobRequestItems: [{}] });
    const [here, there] = await Promise.allSettled([refusedHere, refusedThere]);
    expect(here.status).toBe("rejected");
    expect(there.status).toBe("rejected");
    const [a, b] = [here, there].map((r) => (r as PromiseRejectedResult).reason as { code: Code; rawMessage: string });
    expect({ code: a!.code, message: a!.rawMessage }).toEqual({ code: b!.code, message: b!.rawMessage });
    expect(a!.code).toBe(Code.Unauthenticated);
  });

  it("follows a job set as soon as its submit passes, so the first status poll is answered from the cache", async () => {
    const through = clients(service.url, AUTH);
    const [item] = (await through.submit.submitJobs({ queue: "q", jobSetId: "learnt", jobRequestItems: [{}] })).jobResponseItems;
    await eventually(() => sim.calls({ method: "api.Event/GetJobSetEvents" }).some((call) => call.jobSetId === "learnt"), 10_000);
    await eventually(() => sim.jobs().find((job) => job.jobId === item!.jobId)?.done ?? false, 10_000);
    await expect
      .poll(async () => (await through.jobs.getJobStatus({ jobIds: [item!.jobId] })).jobStates[item!.jobId], { timeout: 10_000 })
      .toBe(JobState.SUCCEEDED);
    expect(sim.calls({ method: "api.Jobs/GetJobStatus" })).toHaveLength(0);
    expect(sim.calls({ method: "api.Jobs/GetJobDetails" })).toHaveLength(0);
  });

  it("learns from a gzip-compressed submit too, and answers its external job URI from the cache", async () => {
    const gzip = createGrpcTransport({ baseUrl: service.url, sendCompression: compressionGzip, compressMinBytes: 0 });
    const uri = "airflow://dag/gzip/task";
    const submit = createClient(Submit, gzip).submitJobs(
      { queue: "q", jobSetId: "gzipped", jobRequestItems: [{ annotations: { "armadaproject.io/externalJobUri": uri } }] },
      { headers: { authorization: AUTH } },
    );
    const [item] = (await submit).jobResponseItems;
    const request = { queue: "q", jobset: "gzipped", externalJobUri: uri };
    await expect
      .poll(async () => (await clients(service.url).jobs.getJobStatusUsingExternalJobUri(request)).jobStates[item!.jobId], { timeout: 10_000 })
      .toBe(JobState.SUCCEEDED);
    expect(sim.calls({ method: "api.Jobs/GetJobStatusUsingExternalJobUri" })).toHaveLength(0);
  });

  it("streams events through as Armada sends them, and a caller that leaves closes the stream at Armada", async () => {
    const through = clients(service.url, AUTH);
    const [item] = (await through.submit.submitJobs({ queue: "q", jobSetId: "watched", jobRequestItems: [{}] })).jobResponseItems;
    await eventually(() => sim.jobs().find((job) => job.jobId === item!.jobId)?.done ?? false, 10_000);
    const direct = await readStream((signal) => clients(sim.url, AUTH).events.getJobSetEvents({ queue: "q", id: "watched", watch: true }, { signal }), {
      count: 6,
      timeoutMs: 5000,
    });
    // The service follows the job set itself (its submit passed through): that stream stays open.
    await eventually(() => sim.openStreams({ jobSetId: "watched" }) === 1, 5000);
    const leave = new AbortController();
    const proxied = through.events.getJobSetEvents({ queue: "q", id: "watched", watch: true }, { signal: leave.signal })[Symbol.asyncIterator]();
    const received = [];
    for (let i = 0; i < 6; i++) received.push((await proxied.next()).value);
    expect(received).toEqual(direct.messages);
    expect(sim.openStreams({ jobSetId: "watched" })).toBe(2);
    leave.abort();
    await proxied.next().catch(() => undefined);
    await eventually(() => sim.openStreams({ jobSetId: "watched" }) === 1, 5000);
  });

  it("carries the caller's deadline to Armada", async () => {
    sim.faults.stall(5000);
    try {
      const call = clients(service.url, AUTH).events.getJobSetEvents({ queue: "q", id: "stalled", watch: true }, { timeoutMs: 300 });
      await expect(readStream(() => call, { timeoutMs: 4000 })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    } finally {
      sim.faults.unstall();
    }
  });
});

describe("the passthrough, when off (the default)", () => {
  let sim: Simulator;
  let service: { url: string; stop(): Promise<void> };
  beforeAll(async () => {
    sim = await startSimulator({ queues: ["q"] });
    service = await startFullTestService(sim.url);
  });
  afterAll(async () => {
    await service?.stop();
    await sim?.close();
  });

  it("answers Armada's other methods UNIMPLEMENTED and sends nothing to Armada", async () => {
    await expect(clients(service.url).submit.submitJobs({ queue: "q", jobSetId: "s", jobRequestItems: [{}] })).rejects.toMatchObject({
      code: Code.Unimplemented,
    });
    expect(sim.calls({ method: "api.Submit/SubmitJobs" })).toHaveLength(0);
  });
});
