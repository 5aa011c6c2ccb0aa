import { compressionBrotli, compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { getRequestListener } from "@hono/node-server";
import { Counter, type Registry } from "prom-client";
import type { StatusPageDeps } from "../status-page/routes.js";
import type { RequestHandler } from "./request-handler.js";
import { httpRoutes } from "./http-routes.js";
import type { Passthrough } from "../armada/passthrough.js";
import { createRestGateway } from "../query/rest-gateway.js";
import type { CallerAuth } from "../auth/index.js";
import type { Readiness } from "./readiness.js";
import { rpcMetricsInterceptor } from "./rpc-metrics.js";
import { createFastUnary } from "./fast-unary/index.js";
import { hotUnarySpecs, rpcRoutes, type RpcDependencies } from "./rpc-routes.js";
import { answerUnknownRpc } from "./unknown-rpc.js";
import { createCallHelp } from "./call-help.js";
import { JobService } from "../gen/jobservice/jobservice_pb.js";
import { Health as GrpcHealth } from "../gen/grpc/health/v1/health_pb.js";

export interface HandlerOptions extends RpcDependencies {
  readonly metrics: Registry;
  readonly readiness: () => Promise<Readiness>;
  /** Requests above this size are refused with RESOURCE_EXHAUSTED. */
  readonly maxRequestBytes: number;
  /** Answer the hot unary RPCs' plain forms without connect's pipeline (same bytes; connect serves the rest). */
  readonly fastPath: boolean;
  readonly statusPage: StatusPageDeps;
  /** The caller check; absent, every call is let through (JOBSERVICE_AUTH=none without the per-caller limit). */
  readonly auth?: CallerAuth;
  /** Armada's methods the service does not answer, passed through to Armada; refused as unimplemented when absent. */
  readonly passthrough?: Passthrough;
}

/**
 * One request handler for every protocol: Connect serves the RPC paths (gRPC,
 * gRPC-Web, Connect JSON and binary), Hono everything else. Connect stays in
 * front because going through the fetch API would lose HTTP/2 trailers, which
 * native gRPC needs.
 */
export function createRequestHandler(options: HandlerOptions): RequestHandler {
  const http = getRequestListener(httpRoutes({ ...options, metricsAuthorized: options.auth?.metricsAuthorized }).fetch, { autoCleanupIncoming: false });
  // Metrics outermost, so that refused calls are counted too.
  const interceptors = options.auth ? [rpcMetricsInterceptor(options.metrics), options.auth.interceptor] : [rpcMetricsInterceptor(options.metrics)];
  const acceptCompression = [compressionGzip, compressionBrotli];
  const rest =
    options.jobs && createRestGateway({ jobs: options.jobs, interceptors, contextValues: options.auth?.contextValues, readMaxBytes: options.maxRequestBytes });
  const connect = connectNodeAdapter({
    routes: rpcRoutes(options),
    readMaxBytes: options.maxRequestBytes,
    acceptCompression,
    interceptors,
    contextValues: options.auth?.contextValues,
    fallback: (req, res) => {
      // Hono's listener takes Node's own response types; connect-node only
      // loosens write()'s callback type, so these are the same objects.
      if (rest?.(req, res as Parameters<typeof rest>[1])) return;
      if (options.passthrough?.handle(req, res as Parameters<Passthrough["handle"]>[1])) return;
      if (!answerUnknownRpc(req, res)) void http(req, res as Parameters<typeof http>[1]);
    },
  }) as RequestHandler;
  const callHelp = createCallHelp([JobService, GrpcHealth]);
  if (!options.fastPath) {
    return (req, res) => {
      if (!callHelp(req, res)) connect(req, res);
    };
  }
  const fastPathCalls = new Counter({
    name: "jobservice_rpc_fast_path_total",
    help: "RPCs answered on the fast path, by method (the rest go through connect).",
    labelNames: ["method"],
    registers: [options.metrics],
  });
  const fast = createFastUnary({
    specs: hotUnarySpecs(options),
    interceptors,
    contextValues: options.auth?.contextValues,
    readMaxBytes: options.maxRequestBytes,
    acceptCompression,
    onServed: (method) => fastPathCalls.inc({ method }),
  });
  return (req, res) => {
    if (!fast(req, res, connect) && !callHelp(req, res)) connect(req, res);
  };
}
