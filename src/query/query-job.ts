import { Cause, type EventMessage, type Job } from "../gen/api/event_pb.js";
import { JobRunState, JobState } from "../gen/api/job_pb.js";
import { timestampMs } from "@bufbuild/protobuf/wkt";

/** The annotation Armada's Lookout reads a job's external job URI from. */
export const EXTERNAL_JOB_URI_ANNOTATION = "armadaproject.io/externalJobUri";

/** One run of a job, as Armada's Lookout records it from the run's events. Times are ms since the epoch. */
export interface QueryRun {
  readonly runId: string;
  readonly state: JobRunState;
  readonly cluster: string;
  readonly node: string;
  readonly leasedMs?: number;
  readonly pendingMs?: number;
  readonly startedMs?: number;
  readonly finishedMs?: number;
  /** The run's error as Lookout stores it: the failure's reason, "" for none. */
  readonly error: string;
  readonly ingressAddresses: Readonly<Record<number, string>>;
}

/** What Armada's Query API knows about a job: Lookout's job row and its runs, newest run last. */
export interface QueryJob {
  readonly jobId: string;
  readonly queue: string;
  readonly jobSetId: string;
  readonly namespace: string;
  readonly state: JobState;
  readonly submittedMs?: number;
  readonly cancelMs?: number;
  readonly cancelReason: string;
  readonly cancelUser: string;
  readonly lastTransitionMs?: number;
  readonly externalJobUri: string;
  /** A rejection's message: Lookout keeps it on the job, not on a run. */
  readonly jobError: string;
  readonly runs: readonly QueryRun[];
  /** The submitted job, when its submission was seen. */
  readonly spec?: Job;
}

type EventCase = Exclude<EventMessage["events"]["case"], undefined>;

/**
 * Events that change nothing Lookout keeps of a job, for the Query API's full
 * fold here and the subscriber's state-only one (armada-state.ts). Listed, so
 * that a new kind of event is a decision.
 */
const LOOKOUT_IGNORES = [
  "cancelling",
  "duplicateFound",
  "preempting",
  "reprioritized",
  "reprioritizing",
  "terminated",
  "unableToSchedule",
  "utilisation",
] as const satisfies readonly EventCase[];
type IgnoredCase = (typeof LOOKOUT_IGNORES)[number];
const IGNORED: ReadonlySet<EventCase> = new Set<EventCase>(LOOKOUT_IGNORES);

export function lookoutIgnores(eventCase: EventCase): eventCase is IgnoredCase {
  return IGNORED.has(eventCase);
}

const TERMINAL: ReadonlySet<JobState> = new Set([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.PREEMPTED, JobState.REJECTED]);

export function isTerminal(state: JobState): boolean {
  return TERMINAL.has(state);
}

/**
 * The job after one more of its events, following Lookout's ingestion: the
 * job's state and transition time, and its runs (a run starts at a lease and
 * takes its id from the pod's kubernetes id, which is Armada's run id). An
 * event for a job not seen yet starts it, so a log read from the middle still
 * answers. Events that change nothing Lookout keeps return `job` as it was.
 */
export function applyEvent(job: QueryJob | undefined, message: EventMessage): QueryJob | undefined {
  const { events } = message;
  if (events.case === undefined) return job;
  const event = events.value;
  const at = event.created ? timestampMs(event.created) : undefined;
  const current = job ?? emptyJob(event.jobId, event.queue, event.jobSetId);
  if (lookoutIgnores(events.case)) return job ?? current;
  // Once Lookout has a terminal state, later events of the job do not move it;
  // a preemption is final only once the run's failure says it will not be retried.
  const retriedPreemption = current.state === JobState.PREEMPTED && events.case === "failed";
  if (isTerminal(current.state) && !retriedPreemption) return current;
  const moveTo = (state: JobState, runs = current.runs): QueryJob => ({ ...current, state, lastTransitionMs: at ?? current.lastTransitionMs, runs });
  switch (events.case) {
    case "submitted": {
      const spec = events.value.job;
      return {
        ...moveTo(JobState.QUEUED),
        namespace: spec?.namespace ?? current.namespace,
        submittedMs: at,
        externalJobUri: spec?.annotations[EXTERNAL_JOB_URI_ANNOTATION] ?? "",
        spec,
      };
    }
    case "queued":
      return current.state === JobState.UNKNOWN ? moveTo(JobState.QUEUED) : current;
    case "leased":
      return moveTo(JobState.LEASED, [...current.runs, newRun(events.value.clusterId, at)]);
    case "leaseReturned":
      return moveTo(
        JobState.QUEUED,
        updateRun(current.runs, { runId: events.value.kubernetesId, state: JobRunState.RUNS_STATE_LEASE_RETURNED, finishedMs: at, error: events.value.reason }),
      );
    case "leaseExpired":
      return moveTo(JobState.QUEUED, updateRun(current.runs, { state: JobRunState.RUN_STATE_LEASE_EXPIRED, finishedMs: at, error: "Lease expired" }));
    case "pending":
      return moveTo(
        JobState.PENDING,
        updateRun(current.runs, { runId: events.value.kubernetesId, cluster: events.value.clusterId, state: JobRunState.RUN_STATE_PENDING, pendingMs: at }),
      );
    case "running":
      return moveTo(
        JobState.RUNNING,
        updateRun(current.runs, {
          runId: events.value.kubernetesId,
          cluster: events.value.clusterId,
          node: events.value.nodeName,
          state: JobRunState.RUN_STATE_RUNNING,
          startedMs: at,
        }),
      );
    case "succeeded":
      return moveTo(
        JobState.SUCCEEDED,
        updateRun(current.runs, { runId: events.value.kubernetesId, node: events.value.nodeName, state: JobRunState.RUN_STATE_SUCCEEDED, finishedMs: at }),
      );
    case "preempted":
      return moveTo(JobState.PREEMPTED, updateRun(current.runs, { runId: events.value.runId, state: JobRunState.RUN_STATE_PREEMPTED, finishedMs: at }));
    case "failed":
      return failed(current, events.value, at);
    case "ingressInfo":
      return { ...current, runs: updateRun(current.runs, { ingressAddresses: { ...events.value.ingressAddresses } }) };
    case "cancelled": {
      const cancelled = { ...moveTo(JobState.CANCELLED), cancelMs: at, cancelReason: events.value.reason, cancelUser: events.value.requestor };
      // Lookout records a cancelled run under a state its Query API does not name.
      const live = current.runs.at(-1);
      return live && live.finishedMs === undefined
        ? { ...cancelled, runs: updateRun(current.runs, { state: JobRunState.RUN_STATE_UNKNOWN, finishedMs: at }) }
        : cancelled;
    }
  }
}

function failed(job: QueryJob, event: Extract<EventMessage["events"], { case: "failed" }>["value"], at: number | undefined): QueryJob {
  if (event.cause === Cause.Rejected) return { ...job, state: JobState.REJECTED, lastTransitionMs: at ?? job.lastTransitionMs, jobError: event.reason };
  const preempted = job.state === JobState.PREEMPTED;
  // Lookout keeps the preemption's reason as the run's error; on Armada's api stream it is the failure's.
  const runs = preempted
    ? amendLastRun(job.runs, { error: event.reason })
    : updateRun(job.runs, { runId: event.kubernetesId, node: event.nodeName, state: JobRunState.RUN_STATE_FAILED, finishedMs: at, error: event.reason });
  // A retryable failure sends the job back to the queue for another run.
  const state = event.retryable ? JobState.QUEUED : preempted ? JobState.PREEMPTED : JobState.FAILED;
  return { ...job, state, lastTransitionMs: at ?? job.lastTransitionMs, runs };
}

function emptyJob(jobId: string, queue: string, jobSetId: string): QueryJob {
  return { jobId, queue, jobSetId, namespace: "", state: JobState.UNKNOWN, cancelReason: "", cancelUser: "", externalJobUri: "", jobError: "", runs: [] };
}

function newRun(cluster: string, at: number | undefined): QueryRun {
  return { runId: "", state: JobRunState.RUN_STATE_LEASED, cluster, node: "", leasedMs: at, error: "", ingressAddresses: {} };
}

type RunChange = Partial<Omit<QueryRun, "runId" | "cluster" | "node">> & { readonly runId?: string; readonly cluster?: string; readonly node?: string };

/** Changes the newest run (starting one if the lease was not seen); empty ids and names keep what the run has. */
function updateRun(runs: readonly QueryRun[], change: RunChange): readonly QueryRun[] {
  const last = runs.at(-1);
  const base = last && last.finishedMs === undefined ? last : newRun(change.cluster ?? "", undefined);
  const next: QueryRun = {
    ...base,
    ...change,
    runId: change.runId || base.runId,
    cluster: change.cluster || base.cluster,
    node: change.node || base.node,
  };
  return base === last ? [...runs.slice(0, -1), next] : [...runs, next];
}

/** Changes the newest run even when it has finished. */
function amendLastRun(runs: readonly QueryRun[], change: Pick<QueryRun, "error">): readonly QueryRun[] {
  const last = runs.at(-1);
  return last ? [...runs.slice(0, -1), { ...last, ...change }] : runs;
}
