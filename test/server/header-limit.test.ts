/**
 * Request headers over JOBSERVICE_MAX_HEADER_BYTES (a huge bearer token) are
 * refused for that one stream, promptly and naming the limit; the connection
 * and its other calls go on. Clients here share one HTTP/2 connection.
 */
import { execFile } from "node:child_process";
import http2 from "node:http2";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/server/limits.js";
import { ENV_TIMEOUT_MS, pythonEnv } from "../support/python-env.js";
import { startTestService, type TestService } from "../support/service.js";

const run = promisify(execFile);
const LIMIT = DEFAULT_LIMITS.maxHeaderBytes;
const PATH = "/jobservice.JobService/GetJobStatus";
let service: TestService;
let python: string;

beforeAll(async () => {
  [service, python] = await Promise.all([startTestService(), pythonEnv("client").then((env) => env.python)]);
}, ENV_TIMEOUT_MS);
afterAll(() => service.stop());

/** The largest token under HPACK's 64 KiB cap on one header field: past it no HTTP/2 server can answer per stream. */
const BIG_TOKEN = `Bearer ${"x".repeat(60_000)}`;

function call(
  session: http2.ClientHttp2Session,
  contentType: string,
  authorization: string,
): Promise<{ status: number; grpcStatus?: string; message: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": PATH, "content-type": contentType, te: "trailers", authorization });
    let status = 0;
    let grpc: { status?: string; message: string } = { message: "" };
    let body = "";
    const read = (headers: http2.IncomingHttpHeaders): void => {
      if (headers["grpc-status"] !== undefined)
        grpc = { status: String(headers["grpc-status"]), message: decodeURIComponent(String(headers["grpc-message"] ?? "")) };
    };
    stream.on("response", (headers) => {
      status = Number(headers[":status"]);
      read(headers);
    });
    stream.on("trailers", read);
    stream.on("data", (chunk: Buffer) => (body += chunk.toString()));
    stream.on("end", () => resolve({ status, grpcStatus: grpc.status, message: grpc.message || body }));
    stream.on("error", reject);
    stream.end(contentType === "application/grpc" ? Buffer.alloc(5) : "{}");
  });
}

describe("request headers over the limit", () => {
  it("refuse that stream only, over one shared HTTP/2 connection, in gRPC and Connect terms", async () => {
    const session = http2.connect(service.url);
    let goaway = false;
    session.on("goaway", () => (goaway = true));
    try {
      const [grpc, connect, fine] = await Promise.all([
        call(session, "application/grpc", BIG_TOKEN),
        call(session, "application/json", BIG_TOKEN),
        call(session, "application/grpc", "Bearer small"),
      ]);
      expect(grpc).toMatchObject({ status: 200, grpcStatus: "8" });
      expect(grpc.message).toMatch(new RegExp(`^request headers of \\d+ bytes exceed the limit of ${LIMIT} bytes$`));
      expect(connect.status).toBe(431);
      expect(JSON.parse(connect.message)).toMatchObject({ code: "resource_exhausted", message: expect.stringContaining(`the limit of ${LIMIT} bytes`) });
      // An empty request is a real answer: INVALID_ARGUMENT from the handler, on the same connection.
      expect(fine).toMatchObject({ status: 200, grpcStatus: "3" });
      expect(await call(session, "application/grpc", "Bearer after")).toMatchObject({ grpcStatus: "3" });
      expect(goaway).toBe(false);
    } finally {
      session.close();
    }
  });

  it("refuse a grpcio call with RESOURCE_EXHAUSTED naming the limit, and the channel's next call is answered", async () => {
    const script = `
import sys, grpc
with grpc.insecure_channel(sys.argv[1]) as channel:
    get = channel.unary_unary("${PATH}", request_serializer=lambda m: m, response_deserializer=lambda b: b)
    for token in (sys.argv[2], "Bearer small"):
        try:
            get(b"", timeout=30, metadata=[("authorization", token)])
            print("OK")
        except grpc.RpcError as error:
            print(f"{error.code().name}\\t{error.details()}")
`;
    const { stdout } = await run(python, ["-c", script, `127.0.0.1:${service.port}`, BIG_TOKEN], { timeout: 60_000 });
    const [refused = "", next = ""] = stdout.trim().split("\n");
    expect(refused).toMatch(new RegExp(`^RESOURCE_EXHAUSTED\\trequest headers of \\d+ bytes exceed the limit of ${LIMIT} bytes$`));
    expect(next).toMatch(/^INVALID_ARGUMENT\t/);
  });
});
