import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Cause, EventMessageSchema, type EventMessage } from "../gen/api/event_pb.js";
import type { Prng } from "./prng.js";
import type { JobSteering } from "./steering.js";

/** Inclusive bounds of a step's duration in milliseconds; each job draws its own. */
export type Range = readonly [minMs: number, maxMs: number];

export interface LifecycleConfig {
  /** queued → leased, and from a lease return or retryable failure back to leased. */
  readonly queuedMs: Range;
  /** leased → pending (or → lease_returned). */
  readonly pendingMs: Range;
  /** pending → running. */
  readonly startMs: Range;
  /** running → succeeded / failed / preempted. */
  readonly runMs: Range;
  /** cancelling → cancelled. */
  readonly cancelMs: Range;
  /** Chance that a run fails (checked after preemption). */
  readonly failureProbability: number;
  /** Chance that a run is preempted. */
  readonly preemptionProbability: number;
  /** Chance that a lease is returned before the pod starts. */
  readonly leaseReturnProbability: number;
  /** Chance that a failed or preempted run is retryable, while attempts remain. */
  readonly retryProbability: number;
  /** Upper bound on leases per job, so every lifecycle ends. */
  readonly maxAttempts: number;
}

export const DEFAULT_LIFECYCLE: LifecycleConfig = {
  queuedMs: [200, 1000],
  pendingMs: [100, 500],
  startMs: [200, 1000],
  runMs: [2000, 10_000],
  cancelMs: [50, 200],
  failureProbability: 0.1,
  preemptionProbability: 0.02,
  leaseReturnProbability: 0.05,
  retryProbability: 0.3,
  maxAttempts: 3,
};

/** Throws a RangeError naming the first field that cannot describe a lifecycle. */
export function validateLifecycle(config: LifecycleConfig): LifecycleConfig {
  const ranges = ["queuedMs", "pendingMs", "startMs", "runMs", "cancelMs"] as const;
  for (const name of ranges) {
    const [min, max] = config[name];
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || min > max) {
      throw new RangeError(`lifecycle.${name} must be [min, max] whole milliseconds with 0 ≤ min ≤ max, got [${min}, ${max}]`);
    }
  }
  const probabilities = ["failureProbability", "preemptionProbability", "leaseReturnProbability", "retryProbability"] as const;
  for (const name of probabilities) {
    const p = config[name];
    if (!(p >= 0 && p <= 1)) throw new RangeError(`lifecycle.${name} must be from 0 to 1, got ${p}`);
  }
  if (!Number.isInteger(config.maxAttempts) || config.maxAttempts < 1) {
    throw new RangeError(`lifecycle.maxAttempts must be a whole number ≥ 1, got ${config.maxAttempts}`);
  }
  return config;
}

export interface JobIdentity {
  readonly jobId: string;
  readonly jobSetId: string;
  readonly queue: string;
  readonly namespace: string;
  readonly priority: number;
  readonly owner: string;
  readonly clientId: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type TerminalState = "succeeded" | "failed" | "cancelled";

/** The final state a job's events lead to: ground truth for tests and benchmarks. */
export interface JobOutcome {
  readonly state: TerminalState;
  /** The failed or cancelled event's reason; "" for succeeded. */
  readonly reason: string;
  readonly exitCode?: number;
  /** Armada's Cause name of the final failure, e.g. "OOM". */
  readonly cause?: string;
  /** Number of leased events. */
  readonly runAttempts: number;
}

/** One event sequence, appended `afterMs` after the previous step. */
export interface PlannedStep {
  readonly afterMs: number;
  readonly events: readonly EventMessage[];
}

export interface JobPlan {
  readonly steps: readonly PlannedStep[];
  readonly outcome: JobOutcome;
}

export const SIMULATOR_REQUESTOR = "armada-sim";

type RunResult =
  | { readonly kind: "succeeded" }
  | { readonly kind: "cancelled"; readonly reason: string }
  | { readonly kind: "preempted" }
  | { readonly kind: "failed"; readonly exitCode: number; readonly cause: Cause; readonly reason: string };

/**
 * A job's whole lifecycle, decided at submit time from its own generator, so
 * the outcome is known before any event is sent and does not depend on how
 * other jobs' timers interleave.
 */
export function planJob(job: JobIdentity, steering: JobSteering | undefined, config: LifecycleConfig, prng: Prng): JobPlan {
  const draw = (range: Range): number => prng.int(range[0], range[1]);
  const steps: PlannedStep[] = [{ afterMs: 0, events: [submitted(job), event(job, "queued", {})] }];

  if (steering?.cause === Cause.Rejected) {
    const reason = steering.reason || "job rejected: it does not fit on any node";
    steps.push({ afterMs: draw(config.queuedMs), events: [failed(job, { reason, cause: Cause.Rejected })] });
    return { steps, outcome: { state: "failed", reason, cause: "Rejected", runAttempts: 0 } };
  }

  let leaseReturnsLeft = steering ? (steering.leaseReturns ?? 0) : undefined;
  let retriesLeft = steering ? (steering.retries ?? 0) : undefined;
  for (let attempt = 1; ; attempt++) {
    const pod = podFor(job, attempt, prng);
    steps.push({ afterMs: draw(config.queuedMs), events: [event(job, "leased", { clusterId: pod.clusterId })] });
    const returnLease = leaseReturnsLeft === undefined ? attempt < config.maxAttempts && prng.chance(config.leaseReturnProbability) : leaseReturnsLeft-- > 0;
    if (returnLease) {
      steps.push({
        afterMs: draw(config.pendingMs),
        events: [
          event(job, "leaseReturned", { clusterId: pod.clusterId, kubernetesId: pod.kubernetesId, reason: "pod could not be scheduled", runAttempted: false }),
        ],
      });
      continue;
    }
    steps.push({ afterMs: draw(config.pendingMs), events: [event(job, "pending", podFields(pod))] });
    steps.push({ afterMs: draw(config.startMs), events: [event(job, "running", { ...podFields(pod), nodeName: pod.nodeName })] });
    const runMs = steering?.durationMs ?? draw(config.runMs);

    const retry = retriesLeft === undefined ? undefined : retriesLeft-- > 0;
    const result: RunResult = retry ? steeredFailure(steering) : steering ? steeredResult(steering) : randomResult(config, prng);
    const retryable =
      result.kind === "failed" || result.kind === "preempted"
        ? (retry ?? (steering === undefined && attempt < config.maxAttempts && prng.chance(config.retryProbability)))
        : false;
    steps.push({ afterMs: runMs, events: resultEvents(job, pod, result, retryable) });
    if (!retryable) return { steps, outcome: outcomeOf(result, attempt) };
  }
}

/** The events of a cancellation requested while the job is not yet terminal. */
export function cancellationEvents(job: JobIdentity, requestor: string, reason: string): { cancelling: EventMessage; cancelled: EventMessage } {
  return {
    cancelling: event(job, "cancelling", { requestor, reason }),
    cancelled: event(job, "cancelled", { requestor, reason }),
  };
}

function randomResult(config: LifecycleConfig, prng: Prng): RunResult {
  if (prng.chance(config.preemptionProbability)) return { kind: "preempted" };
  if (!prng.chance(config.failureProbability)) return { kind: "succeeded" };
  return prng.chance(0.2)
    ? { kind: "failed", exitCode: 137, cause: Cause.OOM, reason: "OOMKilled: container main ran out of memory" }
    : { kind: "failed", exitCode: 1, cause: Cause.Error, reason: "Error: container main exited with code 1" };
}

function steeredResult(steering: JobSteering): RunResult {
  if (steering.outcome === "cancelled") return { kind: "cancelled", reason: steering.reason || "cancelled as asked by armada-sim/outcome" };
  if (steering.outcome === "preempted") return { kind: "preempted" };
  const fails = steering.outcome === "failed" || (steering.exitCode ?? 0) !== 0 || steering.cause !== undefined;
  return fails ? steeredFailure(steering) : { kind: "succeeded" };
}

function steeredFailure(steering: JobSteering | undefined): RunResult {
  const exitCode = steering?.exitCode || 1;
  const cause = steering?.cause ?? Cause.Error;
  const reason = steering?.reason || `Error: container main exited with code ${exitCode}`;
  return { kind: "failed", exitCode, cause, reason };
}

function outcomeOf(result: RunResult, runAttempts: number): JobOutcome {
  switch (result.kind) {
    case "succeeded":
      return { state: "succeeded", reason: "", runAttempts };
    case "cancelled":
      return { state: "cancelled", reason: result.reason, runAttempts };
    case "preempted":
      return { state: "failed", reason: "preempted", cause: "Evicted", runAttempts };
    case "failed":
      return { state: "failed", reason: result.reason, exitCode: result.exitCode, cause: Cause[result.cause], runAttempts };
  }
}

function resultEvents(job: JobIdentity, pod: Pod, result: RunResult, retryable: boolean): EventMessage[] {
  const where = { ...podFields(pod), nodeName: pod.nodeName };
  switch (result.kind) {
    case "succeeded":
      return [event(job, "succeeded", where)];
    case "cancelled": {
      const { cancelling, cancelled } = cancellationEvents(job, SIMULATOR_REQUESTOR, result.reason);
      return [cancelling, cancelled];
    }
    case "preempted":
      return [
        event(job, "preempted", { clusterId: pod.clusterId, runId: pod.runId }),
        failed(job, { ...where, reason: "preempted", cause: Cause.Evicted, retryable }),
      ];
    case "failed":
      return [
        failed(job, {
          ...where,
          reason: result.reason,
          cause: result.cause,
          retryable,
          containerStatuses: [
            { name: "main", exitCode: result.exitCode, message: result.reason, reason: result.exitCode === 137 ? "OOMKilled" : "Error", cause: result.cause },
          ],
        }),
      ];
  }
}

interface Pod {
  readonly clusterId: string;
  readonly nodeName: string;
  readonly kubernetesId: string;
  readonly runId: string;
  readonly podName: string;
  readonly podNamespace: string;
}

function podFor(job: JobIdentity, attempt: number, prng: Prng): Pod {
  return {
    clusterId: `sim-cluster-${prng.int(1, 2)}`,
    nodeName: `sim-node-${prng.int(1, 8)}`,
    kubernetesId: uuid(prng),
    runId: uuid(prng),
    podName: `armada-${job.jobId.toLowerCase()}-0${attempt > 1 ? `-${attempt}` : ""}`,
    podNamespace: job.namespace,
  };
}

function podFields(pod: Pod): { clusterId: string; kubernetesId: string; podNumber: number; podName: string; podNamespace: string } {
  return { clusterId: pod.clusterId, kubernetesId: pod.kubernetesId, podNumber: 0, podName: pod.podName, podNamespace: pod.podNamespace };
}

function uuid(prng: Prng): string {
  const hex = [prng.uint32(), prng.uint32(), prng.uint32(), prng.uint32()].map((n) => n.toString(16).padStart(8, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

type EventInit = MessageInitShape<typeof EventMessageSchema>;
type EventCase = NonNullable<EventMessage["events"]["case"]>;
type CaseValue<C extends EventCase> = Extract<NonNullable<EventInit["events"]>, { case: C }>["value"];

/** An event for the job, its common fields filled in; `created` is stamped when it is appended. */
export function event<C extends EventCase>(job: JobIdentity, kind: C, fields: Omit<CaseValue<C>, "jobId" | "jobSetId" | "queue">): EventMessage {
  const value = { ...fields, jobId: job.jobId, jobSetId: job.jobSetId, queue: job.queue };
  return create(EventMessageSchema, { events: { case: kind, value } as NonNullable<EventInit["events"]> });
}

function submitted(job: JobIdentity): EventMessage {
  return event(job, "submitted", {
    job: {
      id: job.jobId,
      jobSetId: job.jobSetId,
      queue: job.queue,
      priority: job.priority,
      namespace: job.namespace,
      owner: job.owner,
      clientId: job.clientId,
      annotations: { ...job.annotations },
    },
  });
}

function failed(job: JobIdentity, fields: Omit<CaseValue<"failed">, "jobId" | "jobSetId" | "queue">): EventMessage {
  return event(job, "failed", fields);
}

/** Sets every event's `created` to the moment it is appended, as Armada does; returns the events. */
export function stampCreated(events: readonly EventMessage[], nowMs: number): readonly EventMessage[] {
  const created = timestampFromMs(nowMs);
  for (const message of events) {
    if (message.events.case !== undefined) message.events.value.created = created;
  }
  return events;
}
