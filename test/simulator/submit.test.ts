import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { ULID_PATTERN } from "../../src/simulator/ulid.js";
import { armadaClients, caseOf, eventually, FAST_LIFECYCLE, readStream, type ArmadaClients } from "../support/simulator.js";

describe("api.Submit", () => {
  let sim: Simulator;
  let clients: ArmadaClients;

  beforeAll(async () => {
    sim = await startSimulator({ queues: ["q"], lifecycle: { ...FAST_LIFECYCLE, failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 } });
    clients = armadaClients(sim.url);
  });
  afterAll(() => sim.close());

  const allEvents = async (jobSetId: string) =>
    (await readStream((signal) => clients.events.getJobSetEvents({ queue: "q", id: jobSetId }, { signal }))).messages;
  const casesOf = async (jobSetId: string, jobId: string) => (await allEvents(jobSetId)).filter((m) => m.message?.events.value?.jobId === jobId).map(caseOf);
  const settled = (jobIds: readonly string[]) =>
    eventually(() =>
      sim
        .jobs()
        .filter((j) => jobIds.includes(j.jobId))
        .every((j) => j.done),
    );

  it("returns time-ordered ULIDs and walks each job to success", async () => {
    const response = await clients.submit.submitJobs({ queue: "q", jobSetId: "happy", jobRequestItems: [{}, { namespace: "team-a", clientId: "c-1" }] });
    const ids = response.jobResponseItems.map((item) => item.jobId);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(ULID_PATTERN);
    expect(ids[0]! < ids[1]!).toBe(true);
    await settled(ids);
    expect(await casesOf("happy", ids[1]!)).toEqual(["submitted", "queued", "leased", "pending", "running", "succeeded"]);
    const submitted = (await allEvents("happy")).find((m) => m.message?.events.case === "submitted" && m.message.events.value.jobId === ids[1]);
    expect(submitted?.message?.events.value).toMatchObject({ queue: "q", jobSetId: "happy", job: { id: ids[1], namespace: "team-a", clientId: "c-1" } });
  });

  it("rejects unknown queues and empty requests like Armada", async () => {
    await expect(clients.submit.submitJobs({ queue: "nope", jobSetId: "s", jobRequestItems: [{}] })).rejects.toMatchObject({ code: Code.NotFound });
    await expect(clients.submit.submitJobs({ queue: "q", jobSetId: "s", jobRequestItems: [] })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(clients.submit.submitJobs({ queue: "q", jobSetId: "", jobRequestItems: [{}] })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(clients.submit.submitJobs({ queue: "", jobSetId: "s", jobRequestItems: [{}] })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it("rejects a bad steering annotation, naming the item and key, and starts none of the request's jobs", async () => {
    const request = { queue: "q", jobSetId: "typo", jobRequestItems: [{}, { annotations: { "armada-sim/exit-cod": "3" } }] };
    await expect(clients.submit.submitJobs(request)).rejects.toThrow(/job_request_items\[1\]: armada-sim\/exit-cod/);
    expect(await allEvents("typo")).toEqual([]);
  });

  it("creates queues once", async () => {
    await clients.submit.createQueue({ name: "fresh" });
    await expect(clients.submit.createQueue({ name: "fresh" })).rejects.toMatchObject({ code: Code.AlreadyExists });
    await expect(clients.submit.createQueue({ name: "" })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  it("lets annotations ask for a failure with an exit code after a duration", async () => {
    const annotations = { "armada-sim/exit-code": "137", "armada-sim/cause": "OOM", "armada-sim/duration-ms": "40" };
    const [id] = (await clients.submit.submitJobs({ queue: "q", jobSetId: "steered", jobRequestItems: [{ annotations }] })).jobResponseItems.map(
      (i) => i.jobId,
    );
    await settled([id!]);
    const events = (await allEvents("steered")).map((m) => m.message!.events);
    const running = events.find((e) => e.case === "running")!.value!;
    const failed = events.find((e) => e.case === "failed");
    expect(failed?.case).toBe("failed");
    if (failed?.case !== "failed") return;
    expect(failed.value.containerStatuses[0]).toMatchObject({ exitCode: 137, cause: 2 });
    expect(failed.value.cause).toBe(2);
    expect(failed.value.retryable).toBe(false);
    const ranMs = Number(failed.value.created!.seconds - running.created!.seconds) * 1000 + (failed.value.created!.nanos - running.created!.nanos) / 1e6;
    expect(ranMs).toBeGreaterThanOrEqual(35);
    expect(sim.jobs().find((j) => j.jobId === id)?.outcome).toMatchObject({ state: "failed", exitCode: 137, cause: "OOM", runAttempts: 1 });
  });

  it("plays lease returns, retries, preemption, rejection and cancellation asked for by annotations", async () => {
    const items: { annotations?: Record<string, string>; labels?: Record<string, string> }[] = [
      { annotations: { "armada-sim/lease-returns": "1", "armada-sim/retries": "1" } },
      { annotations: { "armada-sim/outcome": "preempted" } },
      { labels: { "armada-sim/cause": "Rejected" } },
      { annotations: { "armada-sim/outcome": "cancelled", "armada-sim/reason": "user gave up" } },
    ];
    const ids = (await clients.submit.submitJobs({ queue: "q", jobSetId: "mixed", jobRequestItems: items })).jobResponseItems.map((i) => i.jobId);
    await settled(ids);
    expect(await casesOf("mixed", ids[0]!)).toEqual([
      "submitted",
      "queued",
      "leased",
      "leaseReturned",
      "leased",
      "pending",
      "running",
      "failed",
      "leased",
      "pending",
      "running",
      "succeeded",
    ]);
    expect(await casesOf("mixed", ids[1]!)).toEqual(["submitted", "queued", "leased", "pending", "running", "preempted", "failed"]);
    expect(await casesOf("mixed", ids[2]!)).toEqual(["submitted", "queued", "failed"]);
    expect(await casesOf("mixed", ids[3]!)).toEqual(["submitted", "queued", "leased", "pending", "running", "cancelling", "cancelled"]);
    const outcomes = ids.map((id) => sim.jobs().find((j) => j.jobId === id)?.outcome);
    expect(outcomes).toEqual([
      { state: "succeeded", reason: "", runAttempts: 3 },
      { state: "failed", reason: "preempted", cause: "Evicted", runAttempts: 1 },
      expect.objectContaining({ state: "failed", cause: "Rejected", runAttempts: 0 }),
      { state: "cancelled", reason: "user gave up", runAttempts: 1 },
    ]);
    const retried = (await allEvents("mixed")).find((m) => m.message?.events.case === "failed" && m.message.events.value.jobId === ids[0]);
    expect(retried?.message?.events.value).toMatchObject({ retryable: true });
  });

  it("cancels live jobs and reports only those it cancelled", async () => {
    const slow = { annotations: { "armada-sim/duration-ms": "60000" } };
    const ids = (await clients.submit.submitJobs({ queue: "q", jobSetId: "cancel", jobRequestItems: [slow, slow, slow] })).jobResponseItems.map((i) => i.jobId);
    const result = await clients.submit.cancelJobs({
      queue: "q",
      jobSetId: "cancel",
      jobIds: [ids[0]!, "01NOTAJOB000000000000000000"],
      reason: "no longer needed",
    });
    expect(result.cancelledIds).toEqual([ids[0]]);
    expect((await clients.submit.cancelJobs({ queue: "q", jobSetId: "other-set", jobId: ids[1]! })).cancelledIds).toEqual([]);
    await clients.submit.cancelJobSet({ queue: "q", jobSetId: "cancel", reason: "tidy up" });
    await settled(ids);
    expect(
      sim
        .jobs()
        .filter((j) => ids.includes(j.jobId))
        .map((j) => [j.outcome.state, j.outcome.reason]),
    ).toEqual([
      ["cancelled", "no longer needed"],
      ["cancelled", "tidy up"],
      ["cancelled", "tidy up"],
    ]);
    const cancelled = (await allEvents("cancel")).filter((m) => m.message?.events.case === "cancelled");
    expect(cancelled).toHaveLength(3);
    expect((await clients.submit.cancelJobs({ queue: "q", jobSetId: "cancel", jobIds: ids })).cancelledIds).toEqual([]);
  });
});
