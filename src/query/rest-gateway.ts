import { fromJson, type DescMethod, type JsonValue } from "@bufbuild/protobuf";
import { Code, createConnectRouter, type ContextValues, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { universalRequestFromNodeRequest } from "@connectrpc/connect-node";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Jobs } from "../gen/api/job_pb.js";
import { gatewayJson } from "./gateway-json.js";

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/** Armada's REST paths for api.Jobs (the google.api.http options of its job.proto). */
const ROUTES: Readonly<Record<string, DescMethod>> = {
  "/v1/job/status": Jobs.method.getJobStatus,
  "/v1/job/statusUsingExternalJobUri": Jobs.method.getJobStatusUsingExternalJobUri,
  "/v1/job/details": Jobs.method.getJobDetails,
  "/v1/job/errors": Jobs.method.getJobErrors,
  "/v1/run/details": Jobs.method.getJobRunDetails,
  "/v1/queues/active": Jobs.method.getActiveQueues,
};

/** grpc-gateway's HTTP status for each gRPC code (runtime.HTTPStatusFromCode). */
const HTTP_STATUS: Readonly<Record<number, number>> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.Unauthenticated]: 401,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
};

const CONNECT_CODES: Readonly<Record<string, Code>> = Object.fromEntries(
  Object.entries(Code)
    .filter(([, value]) => typeof value === "number")
    .map(([name, value]) => [name.replace(/[A-Z]/g, (c, i: number) => `${i ? "_" : ""}${c.toLowerCase()}`), value as Code]),
);

export interface RestGatewayOptions {
  readonly jobs: ServiceImpl<typeof Jobs>;
  /** The same interceptors as the RPC routes: metrics and the caller check. */
  readonly interceptors: Interceptor[];
  readonly contextValues?: (req: Request) => ContextValues;
  readonly readMaxBytes: number;
}

/**
 * Armada's REST forms of api.Jobs (`POST /v1/job/status` and the others),
 * answered by the same handlers through the same interceptors as the RPCs:
 * each request runs as a Connect JSON call inside the process, and the
 * answer is written as Armada's gateway writes it (see gateway-json.ts).
 */
export function createRestGateway(options: RestGatewayOptions): (req: Request, res: Response) => boolean {
  const router = createConnectRouter({ interceptors: options.interceptors, readMaxBytes: options.readMaxBytes, grpc: false, grpcWeb: false });
  router.service(Jobs, options.jobs);
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  return (req, res) => {
    const method = req.method === "POST" ? ROUTES[(req.url ?? "").split("?")[0] ?? ""] : undefined;
    const handler = method && handlers.get(`/${Jobs.typeName}/${method.name}`);
    if (!method || !handler) return false;
    void (async () => {
      const universal = universalRequestFromNodeRequest(req as never, res as never, undefined, options.contextValues?.(req));
      const header = new Headers(universal.header);
      header.set("content-type", "application/json");
      header.delete("content-encoding");
      const answer = await handler({ ...universal, url: new URL(handler.requestPath, universal.url).toString(), header });
      const chunks: Uint8Array[] = [];
      for await (const chunk of answer.body ?? []) chunks.push(chunk);
      const text = Buffer.concat(chunks).toString("utf8");
      const json = (text === "" ? {} : JSON.parse(text)) as JsonValue;
      if (answer.status === 200) {
        write(res, 200, gatewayJson(method.output, fromJson(method.output, json, { ignoreUnknownFields: true })));
        return;
      }
      const { code = "unknown", message = "" } = json as { code?: string; message?: string };
      const grpcCode = CONNECT_CODES[code] ?? Code.Unknown;
      write(res, HTTP_STATUS[grpcCode] ?? 500, { error: message, code: grpcCode, message, details: [] });
    })().catch((error: unknown) => {
      if (!res.headersSent) write(res, 500, { error: "internal error", code: Code.Internal, message: "internal error", details: [] });
      else res.destroy(error instanceof Error ? error : undefined);
    });
    return true;
  };
}

function write(res: Response, status: number, body: unknown): void {
  (res as ServerResponse).writeHead(status, { "content-type": "application/json" });
  (res as ServerResponse).end(JSON.stringify(body));
}
