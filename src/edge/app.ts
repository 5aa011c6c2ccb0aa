import { Code, ConnectError, createConnectRouter, type Interceptor } from "@connectrpc/connect";
import { universalServerRequestFromFetch, universalServerResponseToFetch, type UniversalHandler } from "@connectrpc/connect/protocol";
import { Hono } from "hono";
import type { QueueCheck } from "../auth/identity.js";
import { callerAuthInterceptor } from "../auth/interceptor.js";
import { defaultNumber } from "../config/settings.js";
import { JobService } from "../gen/jobservice/jobservice_pb.js";
import { readRpcs } from "../server/read-rpcs.js";
import type { JobStoreReader } from "../store/store.js";
import { edgeSource } from "./source.js";

/** Who is calling which method about which queue, for a caller security check. */
export interface EdgeCall {
  /** The RPC's name, e.g. "GetJobStatuses". */
  readonly method: string;
  /** The request's `queue`; "" for Health. */
  readonly queue: string;
  readonly header: Headers;
}

/**
 * The caller security hook: resolves to let the call through, throws a
 * ConnectError (UNAUTHENTICATED, PERMISSION_DENIED) to refuse it. Every read
 * needs read-watch rights on `queue`; Health needs none.
 */
export type EdgeAuthorize = (call: EdgeCall) => Promise<void> | void;

export interface EdgeOptions {
  /** The Upstash REST store a full service keeps current. */
  readonly store: JobStoreReader;
  /** Most job ids per GetJobStatuses call (JOBSERVICE_MAX_BATCH_IDS). */
  readonly maxBatchIds?: number;
  /** Progress older than this means no full service follows the job set (JOBSERVICE_EDGE_STALE_AFTER_MS in the settings table). */
  readonly staleAfterMs?: number;
  /**
   * The service's caller check (edgeCallerCheck builds it from the settings):
   * the service's access rules decide what each method needs, so every read
   * needs watch rights on its queue and Health none.
   */
  readonly callerCheck?: QueueCheck;
  /** A check of your own, after callerCheck. */
  readonly authorize?: EdgeAuthorize;
  readonly now?: () => number;
}

export interface EdgeHandler {
  fetch(request: Request): Promise<Response>;
}

/** The service's caller interceptor; at the edge nothing is logged or counted, and no call starts following a job set. */
function checkingCallers(check: QueueCheck): Interceptor {
  return callerAuthInterceptor({
    check,
    limit: { take: () => undefined },
    follows: () => true,
    record: () => undefined,
    logger: { trace: () => undefined, isLevelEnabled: () => false },
  });
}

function authorizing(authorize: EdgeAuthorize): Interceptor {
  return (next) => async (request) => {
    // Every request message but Health's has `queue`; no read RPC takes a client stream.
    const fields: Readonly<Record<string, unknown>> = request.stream ? {} : (request.message as unknown as Record<string, unknown>);
    const queue = typeof fields.queue === "string" ? fields.queue : "";
    await authorize({ method: request.method.name, queue, header: request.header });
    return next(request);
  };
}

/**
 * The read path as a fetch handler, for Deno, Bun, Cloudflare Workers and
 * other fetch runtimes: GetJobStatus, GetJobStatuses, GetJobDetails and Health
 * over Connect (JSON and binary, POST and GET) and gRPC-Web. Native gRPC needs
 * HTTP trailers, which the fetch API cannot send, so it is not offered; the
 * watches need a subscriber, so they answer UNIMPLEMENTED.
 */
export function createEdgeHandler(options: EdgeOptions): EdgeHandler {
  const source = edgeSource({ store: options.store, staleAfterMs: options.staleAfterMs ?? defaultNumber("edge-stale-after-ms"), now: options.now ?? Date.now });
  const interceptors = [...(options.callerCheck ? [checkingCallers(options.callerCheck)] : []), ...(options.authorize ? [authorizing(options.authorize)] : [])];
  const router = createConnectRouter({ grpc: false, interceptors });
  router.service(JobService, {
    ...readRpcs({
      source,
      maxBatchIds: options.maxBatchIds ?? defaultNumber("max-batch-ids"),
      ready: () =>
        options.store.ping().then(
          () => true,
          () => false,
        ),
    }),
    watchJobStatus() {
      throw new ConnectError("the edge entry serves reads only; watch through the full job service", Code.Unimplemented);
    },
    watchJobSet() {
      throw new ConnectError("the edge entry serves reads only; watch through the full job service", Code.Unimplemented);
    },
  });
  const handlers = new Map<string, UniversalHandler>(router.handlers.map((handler) => [handler.requestPath, handler]));

  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.all("*", async (c) => {
    const handler = handlers.get(new URL(c.req.url).pathname);
    if (!handler) return c.json({ code: "unimplemented", message: `no method at ${c.req.method} ${c.req.path}` }, 404);
    const response = await handler(universalServerRequestFromFetch(c.req.raw, {}));
    return universalServerResponseToFetch(response);
  });
  return { fetch: (request) => Promise.resolve(app.fetch(request)) };
}
