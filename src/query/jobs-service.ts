import { create } from "@bufbuild/protobuf";
import type { Client, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { JobDetailsRequestSchema, JobState, type JobDetails, type Jobs } from "../gen/api/job_pb.js";
import { QUEUE_CHECK } from "../auth/interceptor.js";
import { readForCall, type JobStatusSource } from "../answers/answer.js";
import type { JobRecord, JobSetKey, JobStore } from "../store/store.js";
import { checkQuerySize, requireExternalJobUri } from "./answers.js";
import { armadaErrorOf, armadaStateOf } from "./record-answers.js";

export interface JobsServiceDeps {
  /** Holds the job-id index; without it every id is asked of Armada. */
  readonly store: Pick<JobStore, "jobSetsOf" | "indexJobs" | "indexExternalJobUris" | "jobIdsOfExternalUri" | "readJobSet">;
  /** Reads job sets and starts following them (the subscriber). */
  readonly status: JobStatusSource;
  /** Armada's own Query API. */
  readonly upstream: Client<typeof Jobs>;
  /** Deadline of one call to Armada. */
  readonly upstreamTimeoutMs: number;
}

/** A stored job with its job set, or nothing the cache can answer for. */
type Located = ReadonlyMap<string, { readonly jobSet: JobSetKey; readonly record: JobRecord }>;

/**
 * `api.Jobs` answered by the service: job states and errors from the store
 * (each id's job set from the job-id index, each queue checked against the
 * caller first); what the store cannot answer (ids it never saw, records from
 * before Armada's states were kept), and the calls whose answers it does not
 * hold (details, runs, external job URIs it has not indexed, active queues),
 * from Armada's own Query API. Every job set Armada names is followed and
 * indexed from then on, so the next poll of those jobs is local. Armada's
 * errors are passed on.
 */
export function jobsService(deps: JobsServiceDeps): ServiceImpl<typeof Jobs> {
  const upstreamCall = (context: HandlerContext) => ({ signal: context.signal, timeoutMs: deps.upstreamTimeoutMs });

  /** What the cache can answer for these ids, each queue checked first. */
  async function locate(ids: readonly string[], context: HandlerContext): Promise<Located> {
    const jobSets = deps.store.jobSetsOf ? await readForCall(() => deps.store.jobSetsOf!(ids)) : new Map<string, JobSetKey>();
    const byJobSet = new Map<string, { jobSet: JobSetKey; ids: string[] }>();
    for (const [jobId, jobSet] of jobSets) {
      const name = `${jobSet.queue}\u0000${jobSet.jobSetId}`;
      const group = byJobSet.get(name) ?? { jobSet, ids: [] };
      group.ids.push(jobId);
      byJobSet.set(name, group);
    }
    const located = new Map<string, { jobSet: JobSetKey; record: JobRecord }>();
    await Promise.all(
      [...byJobSet.values()].map(async ({ jobSet, ids: jobIds }) => {
        await context.values.get(QUEUE_CHECK)(jobSet);
        const lookup = await deps.status.lookup(jobSet, jobIds, context);
        for (const jobId of jobIds) {
          const record = lookup.jobs.get(jobId);
          if (record && armadaStateOf(record) !== undefined) located.set(jobId, { jobSet, record });
        }
      }),
    );
    return located;
  }

  /** Armada's details of ids the cache cannot answer; their job sets are checked, followed and indexed. */
  async function readThrough(ids: readonly string[], context: HandlerContext, expand = { jobSpec: false, jobRun: false }): Promise<Record<string, JobDetails>> {
    if (ids.length === 0) return {};
    const request = create(JobDetailsRequestSchema, { jobIds: [...ids], expandJobSpec: expand.jobSpec, expandJobRun: expand.jobRun });
    const { jobDetails } = await deps.upstream.getJobDetails(request, upstreamCall(context));
    await learn(Object.values(jobDetails), context);
    return jobDetails;
  }

  async function learn(details: readonly JobDetails[], context: HandlerContext): Promise<void> {
    const byJobSet = new Map<string, { jobSet: JobSetKey; ids: string[] }>();
    for (const detail of details) {
      const jobSet = { queue: detail.queue, jobSetId: detail.jobset };
      const name = `${jobSet.queue}\u0000${jobSet.jobSetId}`;
      const group = byJobSet.get(name) ?? { jobSet, ids: [] };
      group.ids.push(detail.jobId);
      byJobSet.set(name, group);
    }
    for (const { jobSet } of byJobSet.values()) await context.values.get(QUEUE_CHECK)(jobSet);
    for (const { jobSet, ids } of byJobSet.values()) {
      if (jobSet.queue === "" || jobSet.jobSetId === "") continue;
      await deps.store.indexJobs?.(jobSet, ids).catch(() => undefined);
      // Following starts now; this call does not wait for the job set's history.
      void deps.status.lookup(jobSet, [], { signal: AbortSignal.timeout(60_000) }).catch(() => undefined);
    }
  }

  /**
   * The states of the jobs indexed under an external job URI, when the cache
   * holds Armada's state of every one of them; undefined sends the call to Armada.
   */
  async function fromUriIndex(jobSet: JobSetKey, uri: string, context: HandlerContext): Promise<Record<string, JobState> | undefined> {
    if (!deps.store.jobIdsOfExternalUri || jobSet.queue === "" || jobSet.jobSetId === "") return undefined;
    const ids = await readForCall(() => deps.store.jobIdsOfExternalUri!(jobSet, uri));
    if (ids.length === 0) return undefined;
    const { jobs } = await deps.status.lookup(jobSet, ids, context);
    const jobStates: Record<string, JobState> = {};
    for (const id of ids) {
      const record = jobs.get(id);
      const state = record && armadaStateOf(record);
      if (state === undefined) return undefined;
      jobStates[id] = state;
    }
    return jobStates;
  }

  /**
   * Armada's states of the listed jobs the store holds, read without waiting:
   * where the events already reached the store, its state wins over the
   * read-through's, which comes from Lookout and lags the events, so for those
   * jobs the answer agrees with the next poll, which the store answers. A
   * store that does not answer leaves Armada's answer as it is.
   */
  async function storedStates(jobSet: JobSetKey, ids: readonly string[]): Promise<Record<string, JobState>> {
    const stored: Record<string, JobState> = {};
    const { jobs } = await deps.store.readJobSet(jobSet, ids).catch(() => ({ jobs: new Map<string, JobRecord>() }));
    for (const [id, record] of jobs) {
      const state = armadaStateOf(record);
      if (state !== undefined) stored[id] = state;
    }
    return stored;
  }

  return {
    async getJobStatus(request, context) {
      checkQuerySize(request.jobIds.length, "jobIds");
      const located = await locate(request.jobIds, context);
      const missing = request.jobIds.filter((id) => !located.has(id));
      const upstream = await readThrough([...new Set(missing)], context);
      const jobStates: Record<string, JobState> = {};
      for (const id of request.jobIds) {
        const local = located.get(id);
        jobStates[id] = local ? (armadaStateOf(local.record) ?? JobState.UNKNOWN) : (upstream[id]?.state ?? JobState.UNKNOWN);
      }
      return { jobStates };
    },
    async getJobErrors(request, context) {
      checkQuerySize(request.jobIds.length, "JobIds");
      const located = await locate(request.jobIds, context);
      const missing = [...new Set(request.jobIds.filter((id) => !located.has(id)))];
      const jobErrors: Record<string, string> = {};
      for (const [id, { record }] of located) jobErrors[id] = armadaErrorOf(record);
      if (missing.length > 0) {
        await readThrough(missing, context);
        Object.assign(jobErrors, (await deps.upstream.getJobErrors({ jobIds: missing }, upstreamCall(context))).jobErrors);
      }
      return { jobErrors };
    },
    async getJobDetails(request, context) {
      checkQuerySize(request.jobIds.length, "jobIds");
      const jobDetails = await readThrough(request.jobIds, context, { jobSpec: request.expandJobSpec, jobRun: request.expandJobRun });
      return { jobDetails };
    },
    async getJobStatusUsingExternalJobUri(request, context) {
      requireExternalJobUri(request.externalJobUri);
      const jobSet = { queue: request.queue, jobSetId: request.jobset };
      await context.values.get(QUEUE_CHECK)(jobSet);
      const local = await fromUriIndex(jobSet, request.externalJobUri, context);
      if (local) return { jobStates: local };
      const answer = await deps.upstream.getJobStatusUsingExternalJobUri(request, upstreamCall(context));
      const ids = Object.keys(answer.jobStates);
      if (ids.length === 0 || jobSet.queue === "" || jobSet.jobSetId === "") return answer;
      await deps.store.indexJobs?.(jobSet, ids).catch(() => undefined);
      await deps.store.indexExternalJobUris?.(jobSet, new Map(ids.map((id) => [id, request.externalJobUri]))).catch(() => undefined);
      void deps.status.lookup(jobSet, [], { signal: AbortSignal.timeout(60_000) }).catch(() => undefined);
      return { ...answer, jobStates: { ...answer.jobStates, ...(await storedStates(jobSet, ids)) } };
    },
    async getJobRunDetails(request, context) {
      checkQuerySize(request.runIds.length, "RunIds");
      const answer = await deps.upstream.getJobRunDetails(request, upstreamCall(context));
      // Runs name their jobs only: the caller must be allowed each job's queue.
      const jobIds = [...new Set(Object.values(answer.jobRunDetails).map((run) => run.jobId))];
      const located = deps.store.jobSetsOf ? await readForCall(() => deps.store.jobSetsOf!(jobIds)) : new Map<string, JobSetKey>();
      for (const jobSet of located.values()) await context.values.get(QUEUE_CHECK)(jobSet);
      await readThrough(
        jobIds.filter((id) => !located.has(id)),
        context,
      );
      return answer;
    },
    async getActiveQueues(request, context) {
      // Armada decides who may list its queues: the caller's own credential goes with the call.
      const authorization = context.requestHeader.get("authorization");
      return deps.upstream.getActiveQueues(request, { ...upstreamCall(context), ...(authorization ? { headers: { authorization } } : {}) });
    },
  };
}
