import type { ServiceImpl } from "@connectrpc/connect";
import type { Jobs } from "../gen/api/job_pb.js";
import { activeQueues, checkQuerySize, jobDetails, jobErrors, jobStates, requireExternalJobUri, runDetailsById } from "../query/answers.js";
import { applyEvent, type QueryJob } from "../query/query-job.js";
import type { Clock } from "./clock.js";
import { keyName, type EventLog } from "./event-log.js";
import type { MessagePosition } from "./message-id.js";
import { NO_TARGET, runUnary, type ServiceDeps } from "./unary.js";

/** The pool every simulated run is in: the simulator has one. */
export const SIMULATOR_POOL = "default";

/**
 * Armada's Lookout database as the simulator models it: every job's row and
 * runs, folded from the event log, seeing only events older than the
 * ingestion lag (Lookout answers from what its ingester has written so far).
 */
export interface QueryView {
  jobs(ids: readonly string[]): Map<string, QueryJob>;
  byExternalJobUri(queue: string, jobSetId: string, uri: string): QueryJob[];
  byRunIds(runIds: readonly string[]): QueryJob[];
  all(): Iterable<QueryJob>;
}

export function createQueryView(log: EventLog, clock: Clock, lagMs: number): QueryView {
  const jobs = new Map<string, QueryJob>();
  const jobsOfSet = new Map<string, Set<string>>();
  const jobOfRun = new Map<string, string>();
  const applied = new Map<string, MessagePosition>();

  // Ingests lazily on each read: the log is append-only, so each job set is read on from where it was left.
  const catchUp = (): void => {
    const horizon = clock.now() - lagMs;
    for (const key of log.jobSets()) {
      const name = keyName(key);
      for (const logged of log.after(key, applied.get(name))) {
        if (logged.position.millis > horizon) break;
        applied.set(name, logged.position);
        if (logged.raw !== undefined || logged.message.events.case === undefined) continue;
        const jobId = logged.message.events.value.jobId;
        const next = applyEvent(jobs.get(jobId), logged.message);
        if (!next) continue;
        jobs.set(jobId, next);
        let members = jobsOfSet.get(name);
        if (!members) jobsOfSet.set(name, (members = new Set()));
        members.add(jobId);
        for (const run of next.runs) if (run.runId !== "") jobOfRun.set(run.runId, jobId);
      }
    }
  };
  const found = (ids: Iterable<string>): Map<string, QueryJob> => {
    const result = new Map<string, QueryJob>();
    for (const id of ids) {
      const job = jobs.get(id);
      if (job) result.set(id, job);
    }
    return result;
  };

  return {
    jobs(ids) {
      catchUp();
      return found(ids);
    },
    byExternalJobUri(queue, jobSetId, uri) {
      catchUp();
      const members = jobsOfSet.get(keyName({ queue, jobSetId })) ?? [];
      return [...found(members).values()].filter((job) => job.externalJobUri === uri);
    },
    byRunIds(runIds) {
      catchUp();
      return [...found(runIds.flatMap((runId) => jobOfRun.get(runId) ?? [])).values()];
    },
    all() {
      catchUp();
      return jobs.values();
    },
  };
}

/** `api.Jobs`: Armada's Query API, answered from the simulator's own Lookout view. */
export function queryService(deps: ServiceDeps, view: QueryView): ServiceImpl<typeof Jobs> {
  return {
    getJobStatus: (request, context) =>
      runUnary(deps, "api.Jobs/GetJobStatus", context, NO_TARGET, () => {
        checkQuerySize(request.jobIds.length, "jobIds");
        return { jobStates: jobStates(request.jobIds, view.jobs(request.jobIds)) };
      }),
    getJobStatusUsingExternalJobUri: (request, context) =>
      runUnary(deps, "api.Jobs/GetJobStatusUsingExternalJobUri", context, { queue: request.queue, jobSetId: request.jobset }, () => {
        requireExternalJobUri(request.externalJobUri);
        const matches = view.byExternalJobUri(request.queue, request.jobset, request.externalJobUri);
        return { jobStates: Object.fromEntries(matches.map((job) => [job.jobId, job.state])) };
      }),
    getJobDetails: (request, context) =>
      runUnary(deps, "api.Jobs/GetJobDetails", context, NO_TARGET, () => {
        checkQuerySize(request.jobIds.length, "jobIds");
        const expand = { jobSpec: request.expandJobSpec, jobRun: request.expandJobRun };
        return { jobDetails: jobDetails(view.jobs(request.jobIds), expand) };
      }),
    getJobErrors: (request, context) =>
      runUnary(deps, "api.Jobs/GetJobErrors", context, NO_TARGET, () => {
        checkQuerySize(request.jobIds.length, "JobIds");
        return { jobErrors: jobErrors(view.jobs(request.jobIds)) };
      }),
    getJobRunDetails: (request, context) =>
      runUnary(deps, "api.Jobs/GetJobRunDetails", context, NO_TARGET, () => {
        checkQuerySize(request.runIds.length, "RunIds");
        return { jobRunDetails: runDetailsById(request.runIds, view.byRunIds(request.runIds)) };
      }),
    getActiveQueues: (_request, context) =>
      runUnary(deps, "api.Jobs/GetActiveQueues", context, NO_TARGET, () => ({ activeQueuesByPool: activeQueues(view.all(), SIMULATOR_POOL) })),
  };
}
