import { Code, ConnectError } from "@connectrpc/connect";
import type { JobServiceRequest } from "../gen/jobservice/jobservice_pb.js";
import type { JobKey } from "../store/store.js";

/**
 * The store key a request asks about. All three ids are required: a job id is
 * only unique within its queue and job set (Airflow reuses run ids as job set
 * ids across DAGs), so answering by job id alone could report another job.
 */
export function jobKeyOf(request: JobServiceRequest): JobKey {
  const missing = [
    ["queue", request.queue],
    ["job_set_id", request.jobSetId],
    ["job_id", request.jobId],
  ]
    .filter(([, value]) => value === "")
    .map(([field]) => field);
  if (missing.length > 0) {
    throw new ConnectError(`${missing.join(", ")} must not be empty`, Code.InvalidArgument);
  }
  return { queue: request.queue, jobSetId: request.jobSetId, jobId: request.jobId };
}
