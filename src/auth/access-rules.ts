import type { DescMessage, DescMethod, MessageShape } from "@bufbuild/protobuf";
import { Jobs } from "../gen/api/job_pb.js";
import { Health as GrpcHealth } from "../gen/grpc/health/v1/health_pb.js";
import { JobService, JobServiceRequestSchema, JobSetWatchRequestSchema, JobStatusesRequestSchema } from "../gen/jobservice/jobservice_pb.js";
import type { Target } from "./identity.js";

/** What a method needs from its caller. */
export type AccessRule =
  /** Probes and health: Kubernetes probes carry no credentials. */
  | { readonly kind: "anonymous" }
  /** Reads data of one queue: the caller must be allowed to watch it. */
  | { readonly kind: "watch-queue"; readonly target: (message: unknown) => Target }
  /**
   * Reads jobs named by id alone (Armada's Query API): the queues are known
   * only once the handler has looked the ids up, so the handler checks each
   * queue (QUEUE_CHECK in interceptor.ts) before it reads or follows one.
   */
  | { readonly kind: "queues-in-handler" };

const ANONYMOUS: AccessRule = { kind: "anonymous" };
const QUEUES_IN_HANDLER: AccessRule = { kind: "queues-in-handler" };

function watchQueue<S extends DescMessage>(_schema: S, target: (message: MessageShape<S>) => Target): AccessRule {
  return { kind: "watch-queue", target: (message) => target(message as MessageShape<S>) };
}

/**
 * Every RPC of jobservice.JobService and what it needs. A new RPC that reads
 * a queue is one line here; a method missing from the table is refused
 * (fail closed), and a test checks that every method of the service has a row.
 */
export const ACCESS_RULES: Readonly<Record<string, AccessRule>> = {
  [`${JobService.typeName}/GetJobStatus`]: watchQueue(JobServiceRequestSchema, (r) => ({ queue: r.queue, jobSetId: r.jobSetId })),
  [`${JobService.typeName}/GetJobStatuses`]: watchQueue(JobStatusesRequestSchema, (r) => ({ queue: r.queue, jobSetId: r.jobSetId })),
  [`${JobService.typeName}/GetJobDetails`]: watchQueue(JobServiceRequestSchema, (r) => ({ queue: r.queue, jobSetId: r.jobSetId })),
  [`${JobService.typeName}/WatchJobStatus`]: watchQueue(JobServiceRequestSchema, (r) => ({ queue: r.queue, jobSetId: r.jobSetId })),
  [`${JobService.typeName}/WatchJobSet`]: watchQueue(JobSetWatchRequestSchema, (r) => ({ queue: r.queue, jobSetId: r.jobSetId })),
  [`${JobService.typeName}/Health`]: ANONYMOUS,
  ...Object.fromEntries(Jobs.methods.map((method) => [`${Jobs.typeName}/${method.name}`, QUEUES_IN_HANDLER])),
};

/** Whole services that need no credentials. */
const ANONYMOUS_SERVICES: ReadonlySet<string> = new Set([GrpcHealth.typeName]);

export function accessRuleFor(method: DescMethod): AccessRule | undefined {
  if (ANONYMOUS_SERVICES.has(method.parent.typeName)) return ANONYMOUS;
  return ACCESS_RULES[`${method.parent.typeName}/${method.name}`];
}
