import type { JobKey } from "../store/store.js";
import type { Armada } from "./armada.js";
import type { Clock } from "./clock.js";
import { stampCreated, type JobOutcome, type PlannedStep } from "./lifecycle.js";

export interface BulkLoadOptions {
  /** Created when missing; defaults to "bulk". */
  readonly queue?: string;
  readonly jobSets: number;
  readonly jobsPerSet: number;
  /** Target rate over all job sets; Infinity appends as fast as the event loop allows. */
  readonly eventsPerSecond: number;
  /** Job set ids are `<prefix><n>`; defaults to "bulk-". */
  readonly jobSetPrefix?: string;
}

export interface BulkJob extends JobKey {
  /** Where the job's events lead: the ground truth a cache must end up with. */
  readonly outcome: JobOutcome;
}

export interface BulkLoad {
  readonly jobs: readonly BulkJob[];
  readonly totalEvents: number;
  emitted(): number;
  /** Whether the job's first event is in the log: from then on Armada has the job. */
  appended(jobId: string): boolean;
  /** Resolves when every event is in the log, or when the load is stopped. */
  readonly done: Promise<void>;
  stop(): void;
}

const TICK_MS = 10;
const UNPACED_EVENTS_PER_TICK = 5000;

interface TimedStep {
  readonly at: number;
  readonly order: number;
  readonly key: JobKey;
  readonly step: PlannedStep;
}

/**
 * N job sets × M jobs with planned lifecycles, interleaved by their planned
 * times and appended at a steady event rate rather than on their own timers,
 * so benchmarks control the load and know every job's outcome up front.
 */
export function startBulkLoad(armada: Armada, clock: Clock, options: BulkLoadOptions): BulkLoad {
  const { jobSets, jobsPerSet, eventsPerSecond } = options;
  if (!Number.isInteger(jobSets) || jobSets < 1) throw new RangeError("bulk load: jobSets must be a positive integer");
  if (!Number.isInteger(jobsPerSet) || jobsPerSet < 1) throw new RangeError("bulk load: jobsPerSet must be a positive integer");
  if (!(eventsPerSecond > 0)) throw new RangeError("bulk load: eventsPerSecond must be positive");
  const queue = options.queue ?? "bulk";
  const prefix = options.jobSetPrefix ?? "bulk-";
  if (!armada.hasQueue(queue)) armada.createQueue(queue);

  const jobs: BulkJob[] = [];
  const timeline: TimedStep[] = [];
  for (let set = 0; set < jobSets; set++) {
    const jobSet = { queue, jobSetId: `${prefix}${set}` };
    for (let n = 0; n < jobsPerSet; n++) {
      const { identity, plan } = armada.plan(jobSet, {}, "bulk-load");
      const key = { ...jobSet, jobId: identity.jobId };
      jobs.push({ ...key, outcome: plan.outcome });
      let at = 0;
      for (const step of plan.steps) {
        at += step.afterMs;
        timeline.push({ at, order: timeline.length, key, step });
      }
    }
  }
  timeline.sort((a, b) => a.at - b.at || a.order - b.order);
  const totalEvents = timeline.reduce((sum, entry) => sum + entry.step.events.length, 0);

  const startedAt = clock.now();
  let next = 0;
  let emitted = 0;
  const seen = new Set<string>();
  let cancelTick: (() => void) | undefined;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));

  const tick = (): void => {
    const allowed = Number.isFinite(eventsPerSecond) ? Math.floor(((clock.now() - startedAt) * eventsPerSecond) / 1000) : emitted + UNPACED_EVENTS_PER_TICK;
    for (let entry = timeline[next]; entry && emitted < allowed; entry = timeline[++next]) {
      armada.log.append(entry.key, stampCreated(entry.step.events, clock.now()));
      seen.add(entry.key.jobId);
      emitted += entry.step.events.length;
    }
    if (next >= timeline.length) {
      cancelTick = undefined;
      finish();
      return;
    }
    cancelTick = clock.schedule(Number.isFinite(eventsPerSecond) ? TICK_MS : 0, tick);
  };
  cancelTick = clock.schedule(0, tick);

  return {
    jobs,
    totalEvents,
    emitted: () => emitted,
    appended: (jobId) => seen.has(jobId),
    done,
    stop() {
      cancelTick?.();
      cancelTick = undefined;
      finish();
    },
  };
}
