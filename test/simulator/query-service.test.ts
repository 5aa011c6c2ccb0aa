import { Code, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Jobs, JobRunState, JobState } from "../../src/gen/api/job_pb.js";
import { createManualClock, startSimulator, type ManualClock, type Simulator } from "../../src/simulator/index.js";
import { eventually, FAST_LIFECYCLE } from "../support/simulator.js";

const URI_KEY = "armadaproject.io/externalJobUri";

describe("the simulator's api.Jobs (Armada's Query API)", () => {
  let sim: Simulator;
  let jobs: Client<typeof Jobs>;

  beforeAll(async () => {
    sim = await startSimulator({ queues: ["q"], lifecycle: { ...FAST_LIFECYCLE, failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 } });
    jobs = createClient(Jobs, createGrpcTransport({ baseUrl: sim.url }));
  });
  afterAll(() => sim.close());

  const settled = (ids: readonly string[]) =>
    eventually(() =>
      sim
        .jobs()
        .filter((j) => ids.includes(j.jobId))
        .every((j) => j.done),
    );

  it("answers each id's state, UNKNOWN for ids it never saw", async () => {
    const [ok, bad] = sim.submit("q", "states", [{}, { annotations: { "armada-sim/exit-code": "3", "armada-sim/reason": "exit code 3" } }]);
    await settled([ok!, bad!]);
    const { jobStates } = await jobs.getJobStatus({ jobIds: [ok!, bad!, "01NOSUCHJOB"] });
    expect(jobStates).toEqual({ [ok!]: JobState.SUCCEEDED, [bad!]: JobState.FAILED, "01NOSUCHJOB": JobState.UNKNOWN });
  });

  it("gives details with runs (newest first), the spec on request, and errors by job", async () => {
    const [id] = sim.submit("q", "details", [
      { namespace: "team", annotations: { "armada-sim/exit-code": "1", "armada-sim/retries": "1", "armada-sim/reason": "boom" } },
    ]);
    await settled([id!]);
    const { jobDetails } = await jobs.getJobDetails({ jobIds: [id!, "01NOSUCHJOB"], expandJobRun: true, expandJobSpec: true });
    expect(Object.keys(jobDetails)).toEqual([id]);
    const details = jobDetails[id!]!;
    expect(details).toMatchObject({ jobId: id, queue: "q", jobset: "details", namespace: "team", state: JobState.FAILED });
    expect(details.jobSpec?.annotations["armada-sim/reason"]).toBe("boom");
    expect(details.jobRuns.map((run) => run.state)).toEqual([JobRunState.RUN_STATE_FAILED, JobRunState.RUN_STATE_FAILED]);
    expect(details.latestRunId).toBe(details.jobRuns[0]!.runId);
    expect(details.jobRuns[0]).toMatchObject({ jobId: id, cluster: expect.stringMatching(/^sim-cluster-/), node: expect.stringMatching(/^sim-node-/) });
    for (const key of ["leasedTs", "pendingTs", "startedTs", "finishedTs"] as const) expect(details.jobRuns[0]![key]).toBeDefined();
    const plain = await jobs.getJobDetails({ jobIds: [id!] });
    expect(plain.jobDetails[id!]!.jobRuns).toEqual([]);
    expect(plain.jobDetails[id!]!.jobSpec).toBeUndefined();
    expect((await jobs.getJobErrors({ jobIds: [id!, "01NOSUCHJOB"] })).jobErrors).toEqual({ [id!]: "boom" });
    const runIds = details.jobRuns.map((run) => run.runId);
    const { jobRunDetails } = await jobs.getJobRunDetails({ runIds: [...runIds, "no-such-run"] });
    expect(Object.keys(jobRunDetails).sort()).toEqual([...runIds].sort());
  });

  it("finds jobs by the external job URI annotation within their job set", async () => {
    const [id] = sim.submit("q", "uri", [{ annotations: { [URI_KEY]: "airflow://dag/run/task" } }, {}]);
    await eventually(() => sim.events("q", "uri").length > 0);
    const found = await jobs.getJobStatusUsingExternalJobUri({ queue: "q", jobset: "uri", externalJobUri: "airflow://dag/run/task" });
    expect(Object.keys(found.jobStates)).toEqual([id]);
    const elsewhere = await jobs.getJobStatusUsingExternalJobUri({ queue: "q", jobset: "other", externalJobUri: "airflow://dag/run/task" });
    expect(elsewhere.jobStates).toEqual({});
    await expect(jobs.getJobStatusUsingExternalJobUri({ queue: "q", jobset: "uri", externalJobUri: "" })).rejects.toThrow(/must contain external job uri/);
  });

  it("records a cancellation's reason and user", async () => {
    const [id] = sim.submit("q", "cancel", [{ annotations: { "armada-sim/duration-ms": "60000" } }]);
    await eventually(() => sim.events("q", "cancel").some((m) => m.message?.events.case === "running"));
    sim.cancel("q", "cancel", [id!], "not needed");
    await settled([id!]);
    const { jobDetails } = await jobs.getJobDetails({ jobIds: [id!] });
    expect(jobDetails[id!]).toMatchObject({ state: JobState.CANCELLED, cancelReason: "not needed", cancelUser: "armada-sim" });
    expect(jobDetails[id!]!.cancelTs).toBeDefined();
  });

  it("refuses more than 500 ids with Armada's own message", async () => {
    const jobIds = Array.from({ length: 501 }, (_, i) => `id-${i}`);
    await expect(jobs.getJobStatus({ jobIds })).rejects.toMatchObject({ code: Code.Unknown, rawMessage: "request contained more than 500 jobIds" });
  });

  it("names the queues with active jobs under the simulator's one pool", async () => {
    const [id] = sim.submit("q", "active", [{ annotations: { "armada-sim/duration-ms": "60000" } }]);
    await eventually(() => sim.events("q", "active").some((m) => m.message?.events.case === "running"));
    expect((await jobs.getActiveQueues({})).activeQueuesByPool).toMatchObject({ default: { queues: ["q"] } });
    sim.cancel("q", "active", [id!]);
  });
});

describe("the simulator's api.Jobs with an ingestion lag", () => {
  let sim: Simulator;
  let clock: ManualClock;
  let jobs: Client<typeof Jobs>;

  beforeAll(async () => {
    clock = createManualClock(1_000_000);
    sim = await startSimulator({ queues: ["q"], clock, queryLagMs: 500 });
    jobs = createClient(Jobs, createGrpcTransport({ baseUrl: sim.url }));
  });
  afterAll(() => sim.close());

  it("knows a job only once its events are older than the lag, as Lookout does", async () => {
    const [id] = sim.submit("q", "lag", [{}]);
    expect((await jobs.getJobStatus({ jobIds: [id!] })).jobStates).toEqual({ [id!]: JobState.UNKNOWN });
    clock.advance(499);
    expect((await jobs.getJobStatus({ jobIds: [id!] })).jobStates).toEqual({ [id!]: JobState.UNKNOWN });
    clock.advance(1);
    expect((await jobs.getJobStatus({ jobIds: [id!] })).jobStates).toEqual({ [id!]: JobState.QUEUED });
  });
});
