import type { ServiceImpl } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus } from "../gen/api/health_pb.js";
import type { Submit } from "../gen/api/submit_pb.js";
import { authorizeQueue } from "./access.js";
import { createQueueHandler } from "./queue-service.js";
import { NO_TARGET, runUnary, type ServiceDeps } from "./unary.js";

/** `api.Submit`: queues, submissions and cancellations, validated like Armada. */
export function submitService(deps: ServiceDeps): Partial<ServiceImpl<typeof Submit>> {
  const { armada } = deps;
  return {
    createQueue: createQueueHandler(deps, "api.Submit/CreateQueue"),
    submitJobs: (request, context) =>
      runUnary(deps, "api.Submit/SubmitJobs", context, { queue: request.queue, jobSetId: request.jobSetId }, (caller) => {
        authorizeQueue(caller, request.queue, "submit");
        const ids = armada.submit({ queue: request.queue, jobSetId: request.jobSetId }, request.jobRequestItems, caller.principal);
        return { jobResponseItems: ids.map((jobId) => ({ jobId })) };
      }),
    cancelJobs: (request, context) =>
      runUnary(deps, "api.Submit/CancelJobs", context, { queue: request.queue, jobSetId: request.jobSetId }, (caller) => {
        authorizeQueue(caller, request.queue, "cancel");
        const ids = [...new Set([request.jobId, ...request.jobIds].filter((id) => id !== ""))];
        const reason = request.reason || "cancelled by request";
        // Like Armada, a request naming no job cancels the whole job set.
        const jobSet = { queue: request.queue, jobSetId: request.jobSetId };
        return { cancelledIds: armada.cancel(jobSet, ids.length > 0 ? ids : undefined, caller.principal, reason) };
      }),
    cancelJobSet: (request, context) =>
      runUnary(deps, "api.Submit/CancelJobSet", context, { queue: request.queue, jobSetId: request.jobSetId }, (caller) => {
        authorizeQueue(caller, request.queue, "cancel");
        armada.cancel({ queue: request.queue, jobSetId: request.jobSetId }, undefined, caller.principal, request.reason || "job set cancelled by request");
        return {};
      }),
    health: (_request, context) => runUnary(deps, "api.Submit/Health", context, NO_TARGET, () => ({ status: HealthCheckResponse_ServingStatus.SERVING })),
  };
}
