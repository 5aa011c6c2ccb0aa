import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
  JobServiceResponseSchema,
  JobStatusesResponseSchema,
  type JobService,
  type JobStatusesRequest,
} from "../gen/jobservice/jobservice_pb.js";
import { answerFor, jobLookupOf, type JobAnswer, type JobStatusSource } from "../answers/answer.js";
import { cacheControlFor, UNCACHEABLE } from "../answers/cache-control.js";
import { detailsFor } from "../answers/details.js";
import type { JobSetKey } from "../store/store.js";
import { jobKeyOf, jobSetKeyOf } from "./request.js";

export interface ReadRpcOptions {
  readonly source: JobStatusSource;
  /** Most job ids one GetJobStatuses call may ask about. */
  readonly maxBatchIds: number;
  /** True when the service can answer (store, and Armada where it is reached). */
  readonly ready: () => Promise<boolean>;
}

export type ReadRpcs = Pick<ServiceImpl<typeof JobService>, "getJobStatus" | "getJobStatuses" | "getJobDetails" | "health">;

/** HTTP GET answers say how long they stay true; POST answers are never cached anyway. */
function cacheFor(context: HandlerContext, answers: readonly JobAnswer[] | "uncacheable"): void {
  if (context.requestMethod !== "GET") return;
  context.responseHeader.set("cache-control", answers === "uncacheable" ? UNCACHEABLE : cacheControlFor(answers));
}

function batchOf(request: JobStatusesRequest, maxBatchIds: number): { jobSet: JobSetKey; jobIds: readonly string[] } {
  const jobSet = jobSetKeyOf(request);
  if (request.jobIds.length > maxBatchIds) {
    throw new ConnectError(
      `job_ids has ${request.jobIds.length} ids; at most ${maxBatchIds} (JOBSERVICE_MAX_BATCH_IDS) are allowed per call`,
      Code.InvalidArgument,
    );
  }
  const empty = request.jobIds.findIndex((id) => id === "");
  if (empty >= 0) throw new ConnectError(`job_ids[${empty}] must not be empty`, Code.InvalidArgument);
  return { jobSet, jobIds: [...new Set(request.jobIds)] };
}

/**
 * The read-only RPCs, shared by the full service and the edge entry: each
 * answer comes from one lookup of the source, by the rules of `answerFor`.
 */
export function readRpcs(options: ReadRpcOptions): ReadRpcs {
  return {
    async getJobStatus(request, context) {
      const answer = await options.source.status(jobKeyOf(request), context);
      cacheFor(context, [answer]);
      return create(JobServiceResponseSchema, answer);
    },
    async getJobStatuses(request, context) {
      const { jobSet, jobIds } = batchOf(request, options.maxBatchIds);
      const lookup = await options.source.lookup(jobSet, jobIds, context);
      const answers = jobIds.map((jobId) => [jobId, answerFor(jobLookupOf(lookup, jobId))] as const);
      cacheFor(
        context,
        answers.map(([, answer]) => answer),
      );
      return create(JobStatusesResponseSchema, {
        statuses: Object.fromEntries(answers.map(([jobId, answer]) => [jobId, create(JobServiceResponseSchema, answer)])),
      });
    },
    async getJobDetails(request, context) {
      const key = jobKeyOf(request);
      const lookup = await options.source.lookup(key, [key.jobId], context);
      const details = detailsFor(jobLookupOf(lookup, key.jobId));
      cacheFor(context, details.status ? [details.status] : "uncacheable");
      return details;
    },
    async health(_request, context) {
      const ready = await options.ready();
      cacheFor(context, "uncacheable");
      return create(HealthCheckResponseSchema, { status: ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING });
    },
  };
}
