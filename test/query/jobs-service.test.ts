import { Code, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobState, Jobs } from "../../src/gen/api/job_pb.js";
import { JobService, JobServiceResponse_State } from "../../src/gen/jobservice/jobservice_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { startFullTestService } from "../support/service.js";
import { eventually, FAST_LIFECYCLE, jobsDone } from "../support/simulator.js";

const queryCalls = (sim: Simulator, method: string) => sim.calls({ method: `api.Jobs/${method}` }).length;

describe("the service's api.Jobs (Armada's Query API from the cache)", () => {
  let sim: Simulator;
  let service: { url: string; stop(): Promise<void> };
  let viaService: Client<typeof Jobs>;
  let viaSimulator: Client<typeof Jobs>;
  let jobService: Client<typeof JobService>;

  beforeAll(async () => {
    sim = await startSimulator({ queues: ["q"], lifecycle: { ...FAST_LIFECYCLE, failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 } });
    service = await startFullTestService(sim.url);
    viaService = createClient(Jobs, createGrpcTransport({ baseUrl: service.url }));
    viaSimulator = createClient(Jobs, createGrpcTransport({ baseUrl: sim.url }));
    jobService = createClient(JobService, createGrpcTransport({ baseUrl: service.url }));
  });
  afterAll(async () => {
    await service?.stop();
    await sim?.close();
  });

  const settled = (ids: readonly (string | undefined)[]) => jobsDone(sim, ids);

  it("answers polls of followed jobs from the store, with Armada's states and error text, asking Armada nothing", async () => {
    const [ok, bad, rejected] = sim.submit("q", "followed", [
      {},
      { annotations: { "armada-sim/exit-code": "3", "armada-sim/reason": "exit status 3" } },
      { annotations: { "armada-sim/cause": "Rejected", "armada-sim/reason": "does not fit" } },
    ]);
    // The job service follows the job set once it is asked about it the usual way.
    await jobService.getJobStatus({ queue: "q", jobSetId: "followed", jobId: ok! });
    await settled([ok!, bad!, rejected!]);
    const ids = [ok!, bad!, rejected!];
    await expect
      .poll(async () => (await jobService.getJobStatus({ queue: "q", jobSetId: "followed", jobId: bad! })).state, { timeout: 10_000 })
      .toBe(JobServiceResponse_State.FAILED);
    const before = queryCalls(sim, "GetJobStatus") + queryCalls(sim, "GetJobDetails") + queryCalls(sim, "GetJobErrors");
    for (let poll = 0; poll < 20; poll++) {
      expect((await viaService.getJobStatus({ jobIds: ids })).jobStates).toEqual({
        [ok!]: JobState.SUCCEEDED,
        [bad!]: JobState.FAILED,
        [rejected!]: JobState.REJECTED,
      });
    }
    expect((await viaService.getJobErrors({ jobIds: ids })).jobErrors).toEqual((await viaSimulator.getJobErrors({ jobIds: ids })).jobErrors);
    expect((await viaService.getJobErrors({ jobIds: ids })).jobErrors).toEqual({ [ok!]: "", [bad!]: "exit status 3", [rejected!]: "does not fit" });
    // The simulator call above is the only Query API call that reached it.
    expect(queryCalls(sim, "GetJobStatus") + queryCalls(sim, "GetJobDetails") + queryCalls(sim, "GetJobErrors")).toBe(before + 1);
  });

  it("reads an unseen job through from Armada once, then follows its job set and answers locally", async () => {
    const [id] = sim.submit("q", "elsewhere", [{}]);
    await settled([id!]);
    const detailsBefore = queryCalls(sim, "GetJobDetails");
    expect((await viaService.getJobStatus({ jobIds: [id!] })).jobStates).toEqual({ [id!]: JobState.SUCCEEDED });
    expect(queryCalls(sim, "GetJobDetails")).toBe(detailsBefore + 1);
    await eventually(() => sim.calls({ method: "api.Event/GetJobSetEvents" }).some((call) => call.jobSetId === "elsewhere"), 10_000);
    // Once the followed job set is in the store, polls stay local.
    await expect
      .poll(
        async () => {
          const calls = queryCalls(sim, "GetJobDetails");
          await viaService.getJobStatus({ jobIds: [id!] });
          return queryCalls(sim, "GetJobDetails") === calls;
        },
        { timeout: 10_000 },
      )
      .toBe(true);
  });

  it("reads an external job URI it never saw through once, then answers it from the cache", async () => {
    const uri = "airflow://dag/reattach/task";
    const [id] = sim.submit("q", "reattach", [{ annotations: { "armadaproject.io/externalJobUri": uri } }, {}]);
    await settled([id!]);
    const request = { queue: "q", jobset: "reattach", externalJobUri: uri };
    const before = queryCalls(sim, "GetJobStatusUsingExternalJobUri");
    expect((await viaService.getJobStatusUsingExternalJobUri(request)).jobStates).toEqual({ [id!]: JobState.SUCCEEDED });
    expect(queryCalls(sim, "GetJobStatusUsingExternalJobUri")).toBe(before + 1);
    await expect
      .poll(
        async () => {
          const calls = queryCalls(sim, "GetJobStatusUsingExternalJobUri");
          const answer = await viaService.getJobStatusUsingExternalJobUri(request);
          return queryCalls(sim, "GetJobStatusUsingExternalJobUri") === calls && answer.jobStates[id!] === JobState.SUCCEEDED;
        },
        { timeout: 10_000 },
      )
      .toBe(true);
    // A URI the cache does not know still goes to Armada, which knows none either.
    expect((await viaService.getJobStatusUsingExternalJobUri({ ...request, externalJobUri: "airflow://nobody" })).jobStates).toEqual({});
  });

  it("answers UNKNOWN, as Armada does, for an id nobody knows, and passes details through", async () => {
    expect((await viaService.getJobStatus({ jobIds: ["01NOSUCHJOB"] })).jobStates).toEqual({ "01NOSUCHJOB": JobState.UNKNOWN });
    const [id] = sim.submit("q", "details", [{ namespace: "ns" }]);
    await settled([id!]);
    const fromService = await viaService.getJobDetails({ jobIds: [id!], expandJobRun: true });
    expect(fromService).toEqual(await viaSimulator.getJobDetails({ jobIds: [id!], expandJobRun: true }));
  });

  it("passes Armada's refusal on as the error it is", async () => {
    sim.faults.refuse(1, Code.Unavailable, { method: "GetJobDetails" });
    await expect(viaService.getJobStatus({ jobIds: ["01NEVERSEEN"] })).rejects.toMatchObject({ code: Code.Unavailable });
  });
});

describe("Armada's REST forms of api.Jobs, as its grpc-gateway writes them", () => {
  let sim: Simulator;
  let service: { url: string; stop(): Promise<void> };
  beforeAll(async () => {
    sim = await startSimulator({ queues: ["q"], lifecycle: { ...FAST_LIFECYCLE, failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 } });
    service = await startFullTestService(sim.url);
  });
  afterAll(async () => {
    await service?.stop();
    await sim?.close();
  });
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${service.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };

  it("POST /v1/job/status: states as numbers, by camelCase name; errors and details likewise", async () => {
    const [ok, bad] = sim.submit("q", "rest", [{}, { annotations: { "armada-sim/exit-code": "2", "armada-sim/reason": "bad input" } }]);
    await eventually(() => sim.jobs().every((job) => job.done), 10_000);
    expect(await post("/v1/job/status", { jobIds: [ok, bad, "01NOSUCHJOB"] })).toEqual({
      status: 200,
      json: { jobStates: { [ok!]: JobState.SUCCEEDED, [bad!]: JobState.FAILED, "01NOSUCHJOB": JobState.UNKNOWN } },
    });
    expect(await post("/v1/job/errors", { jobIds: [ok, bad] })).toEqual({ status: 200, json: { jobErrors: { [ok!]: "", [bad!]: "bad input" } } });
    const details = await post("/v1/job/details", { jobIds: [ok], expandJobRun: true });
    const job = (details.json.jobDetails as Record<string, Record<string, unknown>>)[ok!]!;
    expect(job).toMatchObject({ jobId: ok, queue: "q", jobset: "rest", state: JobState.SUCCEEDED, submittedTs: { seconds: expect.any(Number) } });
    // Zero values are left out, as Go's omitempty does: no empty cancel reason.
    expect(job).not.toHaveProperty("cancelReason");
  });

  it("answers a refused call with the gateway's error body and HTTP status", async () => {
    const { status, json } = await post("/v1/job/statusUsingExternalJobUri", { queue: "q", jobset: "rest" });
    expect(status).toBe(500);
    expect(json).toEqual({ error: "request must contain external job uri", code: Code.Unknown, message: "request must contain external job uri", details: [] });
  });
});
