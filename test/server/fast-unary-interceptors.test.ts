import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  createMethodImplSpec,
  type ConnectRouter,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobService, JobServiceRequestSchema, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { createFastUnary } from "../../src/server/fast-unary/index.js";
import { grpcFrame, http2Request } from "../support/http.js";

// The fast path builds the interceptors' request and the implementation's
// context lazily; these interceptors read and change every part of both, so
// each part must be what connect gives, and each change must reach the answer.

const CALLER = createContextKey<string>("nobody");
const GET_JOB_STATUS = "/jobservice.JobService/GetJobStatus";

/** What the interceptors and the implementation saw, as text that both servers must produce alike. */
function seen(request: {
  url: string;
  requestMethod: string;
  header: Headers;
  signal: AbortSignal;
  contextValues: { get<T>(key: ReturnType<typeof createContextKey<T>>): T };
  service: { typeName: string };
  method: { name: string };
}): string {
  return JSON.stringify({
    url: request.url,
    requestMethod: request.requestMethod,
    probe: request.header.get("x-probe"),
    aborted: request.signal.aborted,
    caller: request.contextValues.get(CALLER),
    service: request.service.typeName,
    method: request.method.name,
  });
}

function contextSeen(context: HandlerContext): string {
  return JSON.stringify({
    url: context.url,
    requestMethod: context.requestMethod,
    protocol: context.protocolName,
    probe: context.requestHeader.get("x-probe"),
    added: context.requestHeader.get("x-added"),
    deadline: context.timeoutMs() !== undefined,
    aborted: context.signal.aborted,
    caller: context.values.get(CALLER),
    method: context.method.name,
  });
}

const interceptors: Interceptor[] = [
  // Replaces the request with a copy that carries one more header, as interceptors that add metadata do.
  (next) => async (request) => {
    const header = new Headers(request.header);
    header.set("x-added", "by the outer interceptor");
    const response = await next({ ...request, header });
    response.header.set("x-outer", seen(request));
    return response;
  },
  // Answers with headers and trailers of its own, which must replace the call's.
  (next) => async (request) => {
    if (request.header.get("x-refuse") !== null) throw new ConnectError("refused by the interceptor", Code.PermissionDenied, { "x-why": "asked to" });
    const response = await next(request);
    const header = new Headers(response.header);
    header.set("x-inner", "replaced");
    const trailer = new Headers(response.trailer);
    trailer.set("x-inner-trailer", "set");
    return { ...response, header, trailer };
  },
];

const specs = [
  createMethodImplSpec(JobService.method.getJobStatus, (request, context) => {
    context.responseHeader.set("x-context", contextSeen(context));
    context.responseTrailer.set("x-context-trailer", request.jobId);
    return { state: State.RUNNING, error: "" };
  }),
];

function routes(router: ConnectRouter): void {
  router.rpc(JobService.method.getJobStatus, specs[0]!.impl as Parameters<ConnectRouter["rpc"]>[1]);
}

interface Observed {
  readonly status: number;
  readonly headers: [string, string][];
  readonly trailers: [string, string][];
  readonly body: string;
}

async function start(fastPath: boolean): Promise<{ origin: string; close(): Promise<void> }> {
  const contextValues = (): ReturnType<typeof createContextValues> => createContextValues().set(CALLER, "alice");
  const connect = connectNodeAdapter({ routes, interceptors, contextValues });
  const fast = createFastUnary({ specs, interceptors, contextValues, readMaxBytes: 65_536, acceptCompression: [] });
  const server = http2.createServer((req, res) => {
    if (!fastPath || !fast(req, res, connect)) connect(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function send(origin: string, headers: Record<string, string>, body: Buffer): Promise<Observed> {
  const response = await http2Request(origin, { ":method": "POST", ":path": GET_JOB_STATUS, ...headers }, body);
  // The two servers listen on different ports; the URL each call saw differs only there.
  const fields = (h: http2.IncomingHttpHeaders): [string, string][] =>
    Object.entries(h)
      .filter(([name]) => !name.startsWith(":") && name !== "date")
      .map(([name, value]) => [name, String(value).replaceAll(origin, "ORIGIN")]);
  return {
    status: response.status,
    headers: fields(response.headers as http2.IncomingHttpHeaders),
    trailers: fields(response.trailers),
    body: response.bytes.toString("hex"),
  };
}

const message = toBinary(JobServiceRequestSchema, create(JobServiceRequestSchema, { queue: "q", jobSetId: "s", jobId: "j-1" }));

describe("interceptors on the fast path see and change the call exactly as on connect", () => {
  let fast: Awaited<ReturnType<typeof start>>;
  let reference: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    [fast, reference] = await Promise.all([start(true), start(false)]);
  });
  afterAll(async () => {
    await fast?.close();
    await reference?.close();
  });

  it.each([
    ["gRPC", { "content-type": "application/grpc", te: "trailers", "x-probe": "one" }, grpcFrame(message)],
    ["gRPC with a deadline", { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "5S" }, grpcFrame(message)],
    ["gRPC refused by an interceptor", { "content-type": "application/grpc", te: "trailers", "x-refuse": "1" }, grpcFrame(message)],
    ["Connect JSON", { "content-type": "application/json", "x-probe": "two" }, Buffer.from(JSON.stringify({ queue: "q", jobSetId: "s", jobId: "j-2" }))],
    ["Connect JSON refused by an interceptor", { "content-type": "application/json", "x-refuse": "1" }, Buffer.from("{}")],
  ])("%s", async (_name, headers, body) => {
    const [actual, expected] = await Promise.all([send(fast.origin, headers, body), send(reference.origin, headers, body)]);
    expect(actual).toEqual(expected);
    // The comparison means something only if the interceptors' marks are there to compare.
    const names = [...expected.headers, ...expected.trailers].map(([name]) => name);
    expect(names.some((name) => name.startsWith("x-"))).toBe(true);
  });
});
