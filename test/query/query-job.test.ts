import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { Cause, EventMessageSchema } from "../../src/gen/api/event_pb.js";
import { JobRunState, JobState } from "../../src/gen/api/job_pb.js";
import { jobErrors, jobStates } from "../../src/query/answers.js";
import { applyEvent, type QueryJob } from "../../src/query/query-job.js";

type Events = NonNullable<MessageInitShape<typeof EventMessageSchema>["events"]>;
const ids = { jobId: "j", queue: "q", jobSetId: "s" };

/** The job after these events, each `created` one second after the last. */
function fold(...events: Events[]): QueryJob | undefined {
  return events.reduce<QueryJob | undefined>((job, init, index) => {
    const message = create(EventMessageSchema, {
      events: { ...init, value: { ...ids, created: timestampFromMs(1000 * (index + 1)), ...init.value } } as Events,
    });
    return applyEvent(job, message);
  }, undefined);
}

const submitted: Events = {
  case: "submitted",
  value: { job: { id: "j", namespace: "ns", annotations: { "armadaproject.io/externalJobUri": "airflow://dag/task" } } },
};
const queued: Events = { case: "queued", value: {} };
const leased: Events = { case: "leased", value: { clusterId: "c1" } };
const pending: Events = { case: "pending", value: { clusterId: "c1", kubernetesId: "run-1" } };
const running: Events = { case: "running", value: { clusterId: "c1", kubernetesId: "run-1", nodeName: "n1" } };

describe("Lookout's view of a job, folded from its events", () => {
  it("walks QUEUED → LEASED → PENDING → RUNNING → SUCCEEDED with one run carrying cluster, node and times", () => {
    const states = [submitted, queued, leased, pending, running].map((_, i, all) => fold(...all.slice(0, i + 1))?.state);
    expect(states).toEqual([JobState.QUEUED, JobState.QUEUED, JobState.LEASED, JobState.PENDING, JobState.RUNNING]);
    const job = fold(submitted, queued, leased, pending, running, { case: "succeeded", value: { kubernetesId: "run-1", nodeName: "n1" } })!;
    expect(job).toMatchObject({ state: JobState.SUCCEEDED, namespace: "ns", submittedMs: 1000, lastTransitionMs: 6000, externalJobUri: "airflow://dag/task" });
    expect(job.runs).toEqual([
      {
        runId: "run-1",
        state: JobRunState.RUN_STATE_SUCCEEDED,
        cluster: "c1",
        node: "n1",
        leasedMs: 3000,
        pendingMs: 4000,
        startedMs: 5000,
        finishedMs: 6000,
        error: "",
        ingressAddresses: {},
      },
    ]);
    expect(jobErrors(new Map([["j", job]]))).toEqual({ j: "" });
  });

  it("keeps the failure's reason as the job's error, and a retryable failure sends the job back to QUEUED with a new run", () => {
    const failure = (retryable: boolean): Events => ({ case: "failed", value: { kubernetesId: "run-1", reason: "exit 3", retryable } });
    const retried = fold(submitted, leased, pending, running, failure(true))!;
    expect(retried.state).toBe(JobState.QUEUED);
    const again = fold(submitted, leased, pending, running, failure(true), leased, { case: "pending", value: { kubernetesId: "run-2" } })!;
    expect(again.runs.map((run) => [run.runId, run.state])).toEqual([
      ["run-1", JobRunState.RUN_STATE_FAILED],
      ["run-2", JobRunState.RUN_STATE_PENDING],
    ]);
    const failed = fold(submitted, leased, pending, running, failure(false))!;
    expect(failed.state).toBe(JobState.FAILED);
    expect(jobErrors(new Map([["j", failed]]))).toEqual({ j: "exit 3" });
  });

  it("names a rejection REJECTED with its message, a preemption PREEMPTED, a lease return a returned run", () => {
    const rejected = fold(submitted, queued, { case: "failed", value: { reason: "does not fit", cause: Cause.Rejected } })!;
    expect(rejected).toMatchObject({ state: JobState.REJECTED, jobError: "does not fit", runs: [] });
    const preempted = fold(
      submitted,
      leased,
      pending,
      running,
      { case: "preempted", value: { runId: "run-1" } },
      { case: "failed", value: { kubernetesId: "run-1", reason: "preempted", cause: Cause.Evicted } },
    )!;
    expect(preempted.state).toBe(JobState.PREEMPTED);
    expect(preempted.runs.map((run) => run.state)).toEqual([JobRunState.RUN_STATE_PREEMPTED]);
    const returned = fold(submitted, leased, { case: "leaseReturned", value: { kubernetesId: "run-0", reason: "pod could not be scheduled" } })!;
    expect(returned.state).toBe(JobState.QUEUED);
    expect(returned.runs).toMatchObject([{ runId: "run-0", state: JobRunState.RUNS_STATE_LEASE_RETURNED, error: "pod could not be scheduled" }]);
  });

  it("records a cancellation's time, reason and user, and ignores events after a terminal state", () => {
    const cancelled = fold(
      submitted,
      leased,
      pending,
      running,
      { case: "cancelling", value: { requestor: "alice", reason: "no longer needed" } },
      { case: "cancelled", value: { requestor: "alice", reason: "no longer needed" } },
    )!;
    expect(cancelled).toMatchObject({
      state: JobState.CANCELLED,
      cancelMs: 6000,
      cancelReason: "no longer needed",
      cancelUser: "alice",
      lastTransitionMs: 6000,
    });
    // Lookout's Query API has no name for a cancelled run.
    expect(cancelled.runs.map((run) => run.state)).toEqual([JobRunState.RUN_STATE_UNKNOWN]);
    expect(fold(submitted, { case: "cancelled", value: {} }, running)?.state).toBe(JobState.CANCELLED);
  });

  it("answers UNKNOWN for every id nobody knows", () => {
    const job = fold(submitted)!;
    expect(jobStates(["j", "other"], new Map([["j", job]]))).toEqual({ j: JobState.QUEUED, other: JobState.UNKNOWN });
  });
});

describe("a preempted job that Armada retries", () => {
  it("goes back to QUEUED and on to a new run", () => {
    const preempted: Events = { case: "preempted", value: { runId: "run-1" } };
    const retryable: Events = { case: "failed", value: { kubernetesId: "run-1", reason: "preempted", cause: Cause.Evicted, retryable: true } };
    const job = fold(submitted, leased, pending, running, preempted, retryable, leased, { case: "running", value: { kubernetesId: "run-2" } })!;
    expect(job.state).toBe(JobState.RUNNING);
    expect(job.runs.map((run) => [run.runId, run.state])).toEqual([
      ["run-1", JobRunState.RUN_STATE_PREEMPTED],
      ["run-2", JobRunState.RUN_STATE_RUNNING],
    ]);
  });
});
