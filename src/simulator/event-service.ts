import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Event, EventStreamMessage, JobSetRequest } from "../gen/api/event_pb.js";
import { HealthCheckResponse_ServingStatus } from "../gen/api/health_pb.js";
import { authorizeQueue } from "./access.js";
import { streamMessage } from "./event-log.js";
import { parseMessageId, type MessagePosition } from "./message-id.js";
import { NO_TARGET, runUnary, type ServiceDeps } from "./unary.js";

const GET_JOB_SET_EVENTS = "api.Event/GetJobSetEvents";

/** `api.Event` with Armada's stream semantics; see docs/simulator.md. */
export function eventService(deps: ServiceDeps): Partial<ServiceImpl<typeof Event>> {
  return {
    async *getJobSetEvents(request, context) {
      const end = deps.observations.start({
        method: GET_JOB_SET_EVENTS,
        authorization: context.requestHeader.get("authorization") ?? "",
        queue: request.queue,
        jobSetId: request.id,
        fromMessageId: request.fromMessageId,
        watch: request.watch,
        errorIfMissing: request.errorIfMissing,
      });
      try {
        yield* streamJobSet(deps, request, context);
        end();
      } catch (error) {
        end(error);
        throw error;
      }
    },
    health: (_request, context) => runUnary(deps, "api.Event/Health", context, NO_TARGET, () => ({ status: HealthCheckResponse_ServingStatus.SERVING })),
  };
}

async function* streamJobSet(deps: ServiceDeps, request: JobSetRequest, context: HandlerContext): AsyncGenerator<EventStreamMessage> {
  const { armada, gate, streams } = deps;
  const caller = await gate.admit(GET_JOB_SET_EVENTS, context.requestHeader.get("authorization"), context.signal);
  if (!request.queue) throw new ConnectError("[GetJobSetEvents] queue is required", Code.InvalidArgument);
  if (!request.id) throw new ConnectError("[GetJobSetEvents] job set id is required", Code.InvalidArgument);
  if (!armada.hasQueue(request.queue)) throw new ConnectError(`[GetJobSetEvents] Queue ${request.queue} does not exist`, Code.NotFound);
  authorizeQueue(caller, request.queue, "watch");
  let cursor: MessagePosition | undefined;
  if (request.fromMessageId) {
    cursor = parseMessageId(request.fromMessageId);
    if (!cursor) throw new ConnectError(`[GetJobSetEvents] ${request.fromMessageId} is not a valid message id`, Code.InvalidArgument);
  }
  const key = { queue: request.queue, jobSetId: request.id };
  if (request.errorIfMissing && !armada.log.has(key)) {
    throw new ConnectError(`[GetJobSetEvents] Jobset ${request.id} for queue ${request.queue} does not exist`, Code.NotFound);
  }

  const stream = streams.open(key, context.signal);
  const unsubscribe = armada.log.onAppend(key, stream.wake);
  try {
    // watch=false serves the backlog as it is now; watch=true keeps reading after it.
    for (;;) {
      for (const logged of armada.log.after(key, cursor)) {
        await gate.whileStalled(stream.signal);
        if (stream.signal.aborted) throw stream.signal.reason;
        yield streamMessage(logged);
        cursor = logged.position;
      }
      if (!request.watch) return;
      await stream.nextWake();
    }
  } finally {
    unsubscribe();
    stream.close();
  }
}
