import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createMethodImplSpec, type ConnectRouter, type MethodImplSpec, type ServiceImpl } from "@connectrpc/connect";
import {
  HealthCheckResponse_ServingStatus as GrpcServingStatus,
  HealthCheckResponseSchema as GrpcHealthCheckResponseSchema,
  Health as GrpcHealth,
} from "../gen/grpc/health/v1/health_pb.js";
import { Jobs } from "../gen/api/job_pb.js";
import { JobService, JobServiceResponseSchema, JobSetChangeSchema } from "../gen/jobservice/jobservice_pb.js";
import { answerFor, jobLookupOf, type JobAnswer, type JobStatusSource } from "../answers/answer.js";
import { watchStep } from "../answers/watch.js";
import type { WatchHub } from "../watch/hub.js";
import { readRpcs } from "./read-rpcs.js";
import type { Readiness } from "./readiness.js";
import { jobKeyOf, jobSetKeyOf } from "./request.js";

export interface RpcDependencies {
  readonly status: JobStatusSource;
  /** Where WatchJobStatus and WatchJobSet learn about changes. */
  readonly watches: WatchHub;
  /** Most job ids one GetJobStatuses call may ask about. */
  readonly maxBatchIds: number;
  readonly readiness: () => Promise<Readiness>;
  /** How often grpc.health.v1 Watch re-checks readiness. */
  readonly healthWatchIntervalMs: number;
  /**
   * Aborted when shutdown begins, so Watch streams end and their HTTP/2
   * sessions can close. Unary calls are not aborted: they get to finish.
   */
  readonly shutdownSignal: AbortSignal;
  /** Armada's Query API (api.Jobs), when the service answers it. */
  readonly jobs?: ServiceImpl<typeof Jobs>;
}

/**
 * Names grpc.health.v1 answers for: "" is the whole server, readiness
 * included. "liveness" answers SERVING whenever the process can answer at
 * all: a Kubernetes liveness probe must not restart pods because Armada or
 * the store is down, which restarting cannot fix.
 */
const LIVENESS_SERVICE_NAME = "liveness";
const HEALTH_SERVICE_NAMES: ReadonlySet<string> = new Set(["", JobService.typeName, LIVENESS_SERVICE_NAME]);

function jobServiceImpl(deps: RpcDependencies): ServiceImpl<typeof JobService> {
  return {
    ...readRpcs({ source: deps.status, maxBatchIds: deps.maxBatchIds, ready: async () => (await deps.readiness()).ready }),
    async *watchJobStatus(request, context) {
      const key = jobKeyOf(request);
      const stop = AbortSignal.any([context.signal, deps.shutdownSignal]);
      let sent: JobAnswer | undefined;
      for await (const view of deps.watches.views(key, [key.jobId], stop)) {
        const answer = answerFor(jobLookupOf(view, key.jobId));
        const step = watchStep(sent, answer);
        if (step.send) {
          yield create(JobServiceResponseSchema, answer);
          sent = answer;
        }
        if (step.end) return;
      }
      endOfWatch(deps.shutdownSignal, context.signal);
    },
    async *watchJobSet(request, context) {
      const jobSet = jobSetKeyOf(request);
      const stop = AbortSignal.any([context.signal, deps.shutdownSignal]);
      const sent = new Map<string, JobAnswer>();
      for await (const view of deps.watches.views(jobSet, undefined, stop)) {
        for (const [jobId, job] of view.jobs) {
          const answer = answerFor({ job, ...(view.progress && { progress: view.progress }) });
          if (!watchStep(sent.get(jobId), answer).send) continue;
          sent.set(jobId, answer);
          // A CONNECTION_ERR comes from the job set's stream, not from one of the job's events.
          const messageId = answer.state === answerFor({ job }).state ? job.messageId : "";
          yield create(JobSetChangeSchema, { jobId, status: create(JobServiceResponseSchema, answer), messageId });
        }
      }
      endOfWatch(deps.shutdownSignal, context.signal);
    },
  };
}

function grpcHealthImpl(deps: RpcDependencies): ServiceImpl<typeof GrpcHealth> {
  return {
    async check(request) {
      return create(GrpcHealthCheckResponseSchema, { status: await grpcHealthStatus(request.service, deps) });
    },
    async *watch(request, context) {
      let previous: GrpcServingStatus | undefined;
      const stop = AbortSignal.any([context.signal, deps.shutdownSignal]);
      while (!stop.aborted) {
        const status = HEALTH_SERVICE_NAMES.has(request.service) ? await grpcHealthStatus(request.service, deps) : GrpcServingStatus.SERVICE_UNKNOWN;
        if (status !== previous) yield create(GrpcHealthCheckResponseSchema, { status });
        previous = status;
        await sleep(deps.healthWatchIntervalMs, stop);
      }
      // At shutdown the watch just ends; at the caller's deadline it says so, as WatchJobStatus does.
      if (!deps.shutdownSignal.aborted) throw ConnectError.from(context.signal.reason, Code.Canceled);
    },
  };
}

export function rpcRoutes(deps: RpcDependencies): (router: ConnectRouter) => void {
  const jobService = jobServiceImpl(deps);
  const health = grpcHealthImpl(deps);
  return (router) => {
    router.service(JobService, jobService);
    router.service(GrpcHealth, health);
    if (deps.jobs) router.service(Jobs, deps.jobs);
  };
}

/** The unary RPCs polled hardest, with the implementations the router has, for the fast path. */
export function hotUnarySpecs(deps: RpcDependencies): MethodImplSpec[] {
  const jobService = jobServiceImpl(deps);
  const health = grpcHealthImpl(deps);
  return [
    createMethodImplSpec(JobService.method.getJobStatus, jobService.getJobStatus),
    createMethodImplSpec(JobService.method.getJobStatuses, jobService.getJobStatuses),
    createMethodImplSpec(JobService.method.health, jobService.health),
    createMethodImplSpec(GrpcHealth.method.check, health.check),
  ];
}

/** A watch ends without its terminal state only when the caller left (nothing to say) or the server is stopping. */
/** Why a watch that stopped before its end stopped: the server going away, or the call's deadline (or cancellation). */
function endOfWatch(shutdownSignal: AbortSignal, callSignal: AbortSignal): void {
  if (shutdownSignal.aborted) throw new ConnectError("the server is shutting down; watch again on another replica", Code.Unavailable);
  // Connect aborts the call's signal with DEADLINE_EXCEEDED when the caller's deadline passes; a watch must not end OK then.
  if (callSignal.aborted) throw ConnectError.from(callSignal.reason, Code.Canceled);
}

async function grpcHealthStatus(service: string, deps: RpcDependencies): Promise<GrpcServingStatus> {
  if (!HEALTH_SERVICE_NAMES.has(service)) {
    throw new ConnectError(`unknown service "${service}"`, Code.NotFound);
  }
  if (service === LIVENESS_SERVICE_NAME) return GrpcServingStatus.SERVING;
  const { ready } = await deps.readiness();
  return ready ? GrpcServingStatus.SERVING : GrpcServingStatus.NOT_SERVING;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
