import { Code, ConnectError } from "@connectrpc/connect";
import type { JobServiceRequest } from "../gen/jobservice/jobservice_pb.js";
import type { JobKey, JobSetKey } from "../store/store.js";

function requireFields(fields: readonly (readonly [string, string])[]): void {
  const missing = fields.filter(([, value]) => value === "").map(([field]) => field);
  if (missing.length > 0) {
    throw new ConnectError(`${missing.join(", ")} must not be empty`, Code.InvalidArgument);
  }
}

/**
 * The store key a request asks about. All three ids are required: a job id is
 * only unique within its queue and job set (Airflow reuses run ids as job set
 * ids across DAGs), so answering by job id alone could report another job.
 */
export function jobKeyOf(request: JobServiceRequest): JobKey {
  requireFields([
    ["queue", request.queue],
    ["job_set_id", request.jobSetId],
    ["job_id", request.jobId],
  ]);
  return { queue: request.queue, jobSetId: request.jobSetId, jobId: request.jobId };
}

/** The job set a batch or job set request asks about; both ids are required. */
export function jobSetKeyOf(request: { readonly queue: string; readonly jobSetId: string }): JobSetKey {
  requireFields([
    ["queue", request.queue],
    ["job_set_id", request.jobSetId],
  ]);
  return { queue: request.queue, jobSetId: request.jobSetId };
}
