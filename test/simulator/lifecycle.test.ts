import { describe, expect, it } from "vitest";
import type { EventMessage } from "../../src/gen/api/event_pb.js";
import { DEFAULT_LIFECYCLE, planJob, validateLifecycle, type JobIdentity, type JobPlan, type LifecycleConfig } from "../../src/simulator/lifecycle.js";
import { createPrng } from "../../src/simulator/prng.js";
import type { JobSteering } from "../../src/simulator/steering.js";

const job: JobIdentity = { jobId: "01JOB", jobSetId: "s", queue: "q", namespace: "ns", priority: 1, owner: "me", clientId: "" };
const casesOf = (plan: JobPlan) => plan.steps.flatMap((step) => step.events.map((e: EventMessage) => e.events.case));
const plans = (config: Partial<LifecycleConfig>, count = 200, steering?: JobSteering) =>
  Array.from({ length: count }, (_, seed) => planJob(job, steering, { ...DEFAULT_LIFECYCLE, ...config }, createPrng(seed)));

describe("planned lifecycles", () => {
  it("run submitted → queued → leased → pending → running → succeeded when nothing goes wrong", () => {
    const [plan] = plans({ failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 }, 1);
    expect(casesOf(plan!)).toEqual(["submitted", "queued", "leased", "pending", "running", "succeeded"]);
    expect(plan!.outcome).toEqual({ state: "succeeded", reason: "", runAttempts: 1 });
    expect(plan!.steps[0]!.afterMs).toBe(0);
  });

  it("draw every step's duration within its range", () => {
    const config = { queuedMs: [10, 20], pendingMs: [30, 40], startMs: [50, 60], runMs: [70, 80] } as const;
    for (const plan of plans({ ...config, failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 }, 50)) {
      const [, leased, pending, running, done] = plan.steps.map((s) => s.afterMs);
      expect([leased! >= 10 && leased! <= 20, pending! >= 30 && pending! <= 40, running! >= 50 && running! <= 60, done! >= 70 && done! <= 80]).toEqual([
        true,
        true,
        true,
        true,
      ]);
    }
  });

  it("end every job, even when every lease is returned and every run fails retryably", () => {
    for (const plan of plans({ leaseReturnProbability: 1, failureProbability: 1, retryProbability: 1, maxAttempts: 3 })) {
      expect(plan.outcome.runAttempts).toBe(3);
      expect(plan.outcome.state).toBe("failed");
      const failures = plan.steps.flatMap((s) => s.events).filter((e) => e.events.case === "failed");
      expect(failures.map((e) => e.events.case === "failed" && e.events.value.retryable)).toEqual(failures.map((_, i) => i < failures.length - 1));
    }
  });

  it('end preempted runs with preempted then failed "preempted"', () => {
    const [plan] = plans({ preemptionProbability: 1, retryProbability: 0 }, 1);
    expect(casesOf(plan!).slice(-2)).toEqual(["preempted", "failed"]);
    expect(plan!.outcome).toMatchObject({ state: "failed", reason: "preempted", cause: "Evicted" });
  });

  it("produce a mix of outcomes from the default probabilities, with the outcome matching the last event", () => {
    const many = plans({ failureProbability: 0.3, preemptionProbability: 0.1 }, 300);
    expect(new Set(many.map((p) => p.outcome.state))).toEqual(new Set(["succeeded", "failed"]));
    for (const plan of many) expect(casesOf(plan).at(-1)).toBe(plan.outcome.state);
  });

  it("follow steering exactly, drawing no random failures", () => {
    for (const plan of plans({ failureProbability: 1, leaseReturnProbability: 1 }, 20, { durationMs: 5 })) {
      expect(casesOf(plan)).toEqual(["submitted", "queued", "leased", "pending", "running", "succeeded"]);
      expect(plan.steps.at(-1)!.afterMs).toBe(5);
    }
    const [failing] = plans({}, 1, { exitCode: 3, reason: "bad input" });
    expect(failing!.outcome).toEqual({ state: "failed", reason: "bad input", exitCode: 3, cause: "Error", runAttempts: 1 });
  });

  it("copy the submit item into the submitted event's job", () => {
    const [plan] = plans({}, 1);
    const submitted = plan!.steps[0]!.events[0]!.events;
    expect(submitted.case === "submitted" && submitted.value.job).toMatchObject({
      id: "01JOB",
      jobSetId: "s",
      queue: "q",
      namespace: "ns",
      priority: 1,
      owner: "me",
    });
  });
});

describe("lifecycle settings", () => {
  it.each([
    [{ runMs: [5, 2] }, /lifecycle.runMs/],
    [{ queuedMs: [-1, 2] }, /lifecycle.queuedMs/],
    [{ failureProbability: 1.5 }, /lifecycle.failureProbability/],
    [{ retryProbability: Number.NaN }, /lifecycle.retryProbability/],
    [{ maxAttempts: 0 }, /lifecycle.maxAttempts/],
  ] as const)("reject %j, naming the field", (change, message) => {
    expect(() => validateLifecycle({ ...DEFAULT_LIFECYCLE, ...change })).toThrow(message);
  });

  it("accept the defaults", () => {
    expect(validateLifecycle(DEFAULT_LIFECYCLE)).toBe(DEFAULT_LIFECYCLE);
  });
});
