import { connectNodeAdapter } from "@connectrpc/connect-node";
import { getRequestListener } from "@hono/node-server";
import type { Registry } from "prom-client";
import type { StatusPageDeps } from "../status-page/routes.js";
import type { RequestHandler } from "./listener.js";
import { httpRoutes } from "./http-routes.js";
import type { CallerAuth } from "../auth/index.js";
import type { Readiness } from "./readiness.js";
import { rpcMetricsInterceptor } from "./rpc-metrics.js";
import { rpcRoutes, type RpcDependencies } from "./rpc-routes.js";
import { answerUnknownRpc } from "./unknown-rpc.js";

export interface HandlerOptions extends RpcDependencies {
  readonly metrics: Registry;
  readonly readiness: () => Promise<Readiness>;
  /** Requests above this size are refused with RESOURCE_EXHAUSTED. */
  readonly maxRequestBytes: number;
  readonly statusPage: StatusPageDeps;
  /** The caller check; absent, every call is let through (JOBSERVICE_AUTH=none without the per-caller limit). */
  readonly auth?: CallerAuth;
}

/**
 * One request handler for every protocol: Connect serves the RPC paths (gRPC,
 * gRPC-Web, Connect JSON and binary), Hono everything else. Connect stays in
 * front because going through the fetch API would lose HTTP/2 trailers, which
 * native gRPC needs.
 */
export function createRequestHandler(options: HandlerOptions): RequestHandler {
  const http = getRequestListener(httpRoutes({ ...options, metricsAuthorized: options.auth?.metricsAuthorized }).fetch, { autoCleanupIncoming: false });
  return connectNodeAdapter({
    routes: rpcRoutes(options),
    readMaxBytes: options.maxRequestBytes,
    // Metrics outermost, so that refused calls are counted too.
    interceptors: options.auth ? [rpcMetricsInterceptor(options.metrics), options.auth.interceptor] : [rpcMetricsInterceptor(options.metrics)],
    contextValues: options.auth?.contextValues,
    fallback: (req, res) => {
      // Hono's listener takes Node's own response types; connect-node only
      // loosens write()'s callback type, so these are the same objects.
      if (!answerUnknownRpc(req, res)) void http(req, res as Parameters<typeof http>[1]);
    },
  }) as RequestHandler;
}
