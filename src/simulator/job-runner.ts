import type { EventMessage } from "../gen/api/event_pb.js";
import type { JobKey, JobSetKey } from "../store/store.js";
import type { Clock } from "./clock.js";
import type { EventLog } from "./event-log.js";
import { cancellationEvents, stampCreated, type JobIdentity, type JobOutcome, type JobPlan, type Range } from "./lifecycle.js";
import type { Prng } from "./prng.js";

export interface JobView extends JobKey {
  /** Where the job's events lead; changes to cancelled when a cancel arrives in time. */
  readonly outcome: JobOutcome;
  /** True once the job's last event is in the log. */
  readonly done: boolean;
}

/** Plays planned lifecycles into the event log on the clock, and cancels them on request. */
export interface JobRunner {
  /** Appends the plan's first step now and schedules the rest. */
  start(job: JobIdentity, plan: JobPlan, prng: Prng): void;
  /** Cancels the named jobs of a job set (all of them when `jobIds` is undefined); returns the ids it cancelled. */
  cancel(jobSet: JobSetKey, jobIds: readonly string[] | undefined, requestor: string, reason: string): string[];
  jobs(): JobView[];
  /** Stops every scheduled step. */
  stop(): void;
}

interface RunningJob {
  readonly identity: JobIdentity;
  readonly plan: JobPlan;
  readonly prng: Prng;
  next: number;
  leases: number;
  outcome: JobOutcome;
  phase: "running" | "cancelling" | "done";
  cancelTimer?: () => void;
}

export function createJobRunner(log: EventLog, clock: Clock, cancelMs: Range): JobRunner {
  const jobs = new Map<string, RunningJob>();

  const append = (job: RunningJob, events: readonly EventMessage[]): void => {
    job.leases += events.filter((message) => message.events.case === "leased").length;
    log.append(job.identity, stampCreated(events, clock.now()));
  };

  const runStep = (job: RunningJob): void => {
    const step = job.plan.steps[job.next++];
    if (!step) return;
    append(job, step.events);
    const following = job.plan.steps[job.next];
    if (!following) {
      job.phase = "done";
      job.cancelTimer = undefined;
      return;
    }
    job.cancelTimer = clock.schedule(following.afterMs, () => runStep(job));
  };

  return {
    start(identity, plan, prng) {
      const job: RunningJob = { identity, plan, prng, next: 0, leases: 0, outcome: plan.outcome, phase: "running" };
      jobs.set(identity.jobId, job);
      runStep(job);
    },
    cancel(jobSet, jobIds, requestor, reason) {
      const targets = jobIds ? jobIds.map((id) => jobs.get(id)).filter((job): job is RunningJob => job !== undefined) : [...jobs.values()];
      const cancelled: string[] = [];
      for (const job of targets) {
        if (job.phase !== "running" || job.identity.queue !== jobSet.queue || job.identity.jobSetId !== jobSet.jobSetId) continue;
        job.cancelTimer?.();
        job.phase = "cancelling";
        const events = cancellationEvents(job.identity, requestor, reason);
        append(job, [events.cancelling]);
        job.outcome = { state: "cancelled", reason, runAttempts: job.leases };
        job.cancelTimer = clock.schedule(job.prng.int(cancelMs[0], cancelMs[1]), () => {
          append(job, [events.cancelled]);
          job.phase = "done";
          job.cancelTimer = undefined;
        });
        cancelled.push(job.identity.jobId);
      }
      return cancelled;
    },
    jobs: () =>
      [...jobs.values()].map((job) => ({
        queue: job.identity.queue,
        jobSetId: job.identity.jobSetId,
        jobId: job.identity.jobId,
        outcome: job.outcome,
        done: job.phase === "done",
      })),
    stop() {
      for (const job of jobs.values()) job.cancelTimer?.();
    },
  };
}
