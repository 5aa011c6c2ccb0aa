import { MethodOptions_IdempotencyLevel as Idempotency } from "@bufbuild/protobuf/wkt";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { NodeRequest as Request, NodeResponse as Response } from "./request-handler.js";

/** The content types connect serves on an RPC path (Connect, gRPC and gRPC-Web, each as protobuf or JSON). */
const SERVED = /^application\/(json|proto|connect\+(json|proto)|grpc(-web)?(\+(json|proto))?)\s*(;|$)/i;

const ACCEPTED = [
  "application/json or application/proto (Connect unary)",
  "application/connect+json or application/connect+proto (Connect streaming)",
  "application/grpc, application/grpc+proto or application/grpc+json (gRPC over HTTP/2)",
  "application/grpc-web, application/grpc-web+proto or application/grpc-web+json (gRPC-Web)",
];

/**
 * A refusal with a body for requests to an RPC path that connect cannot take:
 * no or another content type (HTTP 415), or another HTTP method (405), e.g. an
 * RPC URL opened in a browser. Connect alone answers those with an empty body.
 * Returns false for what connect serves, Connect GET calls included.
 */
export function createCallHelp(services: readonly DescService[]): (req: Request, res: Response) => boolean {
  const methods = new Map<string, DescMethod>(
    services.flatMap((service) => service.methods.map((method) => [`/${service.typeName}/${method.name}`, method] as const)),
  );
  return (req, res) => {
    if (req.method === "POST" && SERVED.test(req.headers["content-type"] ?? "")) return false;
    const url = req.url ?? "";
    const query = url.indexOf("?");
    const method = methods.get(query < 0 ? url : url.slice(0, query));
    if (method === undefined) return false;
    const getAllowed = method.idempotency === Idempotency.NO_SIDE_EFFECTS && method.methodKind === "unary";
    // A Connect GET names its encoding in the query; connect answers it (and its mistakes) itself.
    if (req.method === "GET" && getAllowed && query >= 0 && /[?&]encoding=/.test(url.slice(query))) return false;
    const path = query < 0 ? url : url.slice(0, query);
    const lines = [
      req.method === "POST"
        ? `${path} is an RPC: the request's content-type (${req.headers["content-type"] ? `"${req.headers["content-type"]}"` : "none was sent"}) is not one it accepts.`
        : `${path} is an RPC, called with POST${getAllowed ? " (or a Connect GET)" : ""}, not ${req.method ?? "this method"}.`,
      "",
      "Accepted content types:",
      ...ACCEPTED.map((type) => `  ${type}`),
      "",
      "For example, with Connect JSON:",
      `  curl -H 'content-type: application/json' -d '${exampleBody(method)}' http://HOST:PORT${path}`,
      ...(getAllowed
        ? [
            "",
            "or as a Connect GET (the request as URL-encoded JSON):",
            `  ${path}?connect=v1&encoding=json&message=${encodeURIComponent(exampleBody(method))}`,
          ]
        : []),
    ];
    const status = req.method === "POST" ? 415 : 405;
    const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" };
    if (status === 405) headers.allow = getAllowed ? "POST, GET" : "POST";
    res.writeHead(status, headers);
    res.end(`${lines.join("\n")}\n`);
    return true;
  };
}

/** A request to show in the example, by the method's request message. */
const EXAMPLE_REQUESTS: Readonly<Record<string, string>> = {
  "jobservice.JobServiceRequest": '{"queue":"q","jobSetId":"s","jobId":"j"}',
  "jobservice.JobStatusesRequest": '{"queue":"q","jobSetId":"s","jobIds":["j"]}',
  "jobservice.JobSetWatchRequest": '{"queue":"q","jobSetId":"s"}',
};

function exampleBody(method: DescMethod): string {
  return EXAMPLE_REQUESTS[method.input.typeName] ?? "{}";
}
