import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Queue, QueueService } from "../gen/api/submit_pb.js";
import { runUnary, type ServiceDeps } from "./unary.js";

/**
 * Creates a queue, as both `api.Submit/CreateQueue` (armada-client before 0.4.11) and
 * `api.QueueService/CreateQueue` (0.4.11+ and armadactl) do in Armada.
 */
export function createQueueHandler(deps: ServiceDeps, method: string): (queue: Queue, context: HandlerContext) => Promise<Record<string, never>> {
  return (queue, context) =>
    runUnary(deps, method, context, { queue: queue.name, jobSetId: "" }, () => {
      deps.armada.createQueue(queue.name);
      return {};
    });
}

/** `api.QueueService`: only CreateQueue; its other methods answer UNIMPLEMENTED. */
export function queueService(deps: ServiceDeps): Partial<ServiceImpl<typeof QueueService>> {
  return { createQueue: createQueueHandler(deps, "api.QueueService/CreateQueue") };
}
