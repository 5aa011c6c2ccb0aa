import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_DEFAULTS, type AuthOptions } from "../../src/auth/index.js";
import { HealthCheckRequestSchema as GrpcHealthCheckRequestSchema } from "../../src/gen/grpc/health/v1/health_pb.js";
import { JobServiceRequestSchema, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { JobRecord, JobStore } from "../../src/store/store.js";
import { createPrng } from "../../src/simulator/prng.js";
import { grpcFrame } from "../support/http.js";
import { startTestService, type TestService } from "../support/service.js";

/** One request of the corpus, sent as is to both servers. */
interface Probe {
  readonly name: string;
  readonly http2: boolean;
  readonly path?: string;
  readonly method?: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Everything a client can observe of an answer, less the date. */
interface Observed {
  readonly status: number;
  readonly headers: [string, string][];
  readonly body: string;
  readonly trailers: [string, string][];
}

const QUEUE = "q";
const JOB_SET = "s";
const LONG_REASON = `OOMKilled: ${"container main used more memory than its limit; ".repeat(40)}`;
const GET_JOB_STATUS = "/jobservice.JobService/GetJobStatus";
const MAX_REQUEST_BYTES = 4096;

function record(state: State, error = ""): JobRecord {
  return { state, error, lastEvent: "", messageId: "1:0:0:0", runAttempts: 1 };
}

async function seed(store: JobStore): Promise<void> {
  await store.write(
    { queue: QUEUE, jobSetId: JOB_SET },
    {
      jobs: new Map([
        ["done", record(State.SUCCEEDED)],
        ["running", record(State.RUNNING)],
        ["oom", record(State.FAILED, LONG_REASON)],
        ["queued", record(State.SUBMITTED)],
      ]),
      progress: { cursor: "1:0:0:0", caughtUp: true, error: "", updatedAt: Date.now() },
    },
    { expected: undefined, fence: 0 },
  );
}

function request(jobId: string, queue = QUEUE, jobSetId = JOB_SET): Uint8Array {
  return toBinary(JobServiceRequestSchema, create(JobServiceRequestSchema, { queue, jobSetId, jobId }));
}

/** A gRPC length-prefixed frame with the given flags. */
function frame(message: Uint8Array, flags = 0): Buffer {
  const framed = grpcFrame(message);
  framed[0] = flags;
  return framed;
}

const GRPC = { "content-type": "application/grpc", te: "trailers" };
const JSON_TYPE = { "content-type": "application/json" };

function grpc(name: string, body: Buffer, headers: Record<string, string> = {}, path = GET_JOB_STATUS): Probe {
  return { name: `gRPC: ${name}`, http2: true, path, headers: { ...GRPC, ...headers }, body };
}

function connect(name: string, body: Buffer | string, headers: Record<string, string> = JSON_TYPE, path = GET_JOB_STATUS): Probe[] {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  return [
    { name: `Connect over HTTP/1.1: ${name}`, http2: false, path, headers, body: bytes },
    { name: `Connect over HTTP/2: ${name}`, http2: true, path, headers, body: bytes },
  ];
}

function corpus(): Probe[] {
  const json = (value: unknown): string => JSON.stringify(value);
  const valid = { queue: QUEUE, jobSetId: JOB_SET };
  const probes: Probe[] = [
    ...["done", "running", "oom", "queued", "never-seen"].map((job) => grpc(`job ${job}`, grpcFrame(request(job)))),
    grpc("application/grpc+proto", grpcFrame(request("done")), { "content-type": "application/grpc+proto" }),
    grpc("grpcio's accept-encoding, a long failure", grpcFrame(request("oom")), { "grpc-accept-encoding": "identity,deflate,gzip" }),
    grpc("a deadline", grpcFrame(request("done")), { "grpc-timeout": "5S" }),
    grpc("a malformed deadline", grpcFrame(request("done")), { "grpc-timeout": "soon" }),
    grpc("a gzip request (Go clients)", frame(gzipSync(request("done")), 1), { "grpc-encoding": "gzip" }),
    grpc("a compressed flag without an encoding", frame(request("done"), 1)),
    grpc("empty ids", grpcFrame(request("", "", ""))),
    grpc("an empty body", Buffer.alloc(0)),
    grpc("half a prefix", Buffer.from([0, 0])),
    grpc("a truncated message", grpcFrame(request("done")).subarray(0, 9)),
    grpc("two messages", Buffer.concat([grpcFrame(request("done")), grpcFrame(request("running"))])),
    grpc("bytes that are not protobuf", grpcFrame(Buffer.from([0xff, 0xff, 0xff, 0x0f]))),
    grpc("a message past the size limit", grpcFrame(request("x".repeat(MAX_REQUEST_BYTES * 2)))),
    grpc("application/grpc+json", frame(Buffer.from(json({ ...valid, jobId: "done" }))), { "content-type": "application/grpc+json" }),
    grpc("Health", grpcFrame(new Uint8Array(0)), {}, "/jobservice.JobService/Health"),
    grpc(
      "grpc.health.v1 Check, whole server",
      grpcFrame(toBinary(GrpcHealthCheckRequestSchema, create(GrpcHealthCheckRequestSchema, { service: "" }))),
      {},
      "/grpc.health.v1.Health/Check",
    ),
    grpc(
      "grpc.health.v1 Check, unknown service",
      grpcFrame(toBinary(GrpcHealthCheckRequestSchema, create(GrpcHealthCheckRequestSchema, { service: "nope" }))),
      {},
      "/grpc.health.v1.Health/Check",
    ),
    grpc("an unknown method", grpcFrame(request("done")), {}, "/jobservice.JobService/Nope"),
    grpc("another queue (refused in basic mode)", grpcFrame(request("done", "other"))),
    grpc("with a password", grpcFrame(request("done")), { authorization: `basic ${Buffer.from("alice:alice-pw").toString("base64")}` }),
    grpc("with a wrong password", grpcFrame(request("done")), { authorization: `basic ${Buffer.from("alice:nope").toString("base64")}` }),
    ...["done", "running", "oom", "never-seen"].flatMap((job) => connect(`job ${job}`, json({ ...valid, jobId: job }))),
    ...connect("proto field names and unknown fields", json({ queue: QUEUE, job_set_id: JOB_SET, job_id: "done", extra: [1, 2] })),
    ...connect("a long failure, gzip accepted", json({ ...valid, jobId: "oom" }), { ...JSON_TYPE, "accept-encoding": "gzip" }),
    ...connect("a deadline and the protocol version", json({ ...valid, jobId: "done" }), {
      ...JSON_TYPE,
      "connect-timeout-ms": "5000",
      "connect-protocol-version": "1",
    }),
    ...connect("a malformed deadline", json({ ...valid, jobId: "done" }), { ...JSON_TYPE, "connect-timeout-ms": "-1" }),
    ...connect("malformed JSON", '{"queue": '),
    ...connect("wrong JSON types", json({ queue: 7, jobSetId: JOB_SET, jobId: "done" })),
    ...connect("an empty body", ""),
    ...connect("a JSON array", "[]"),
    ...connect("deep nesting", `{"extra":${"[".repeat(2000)}${"]".repeat(2000)},"queue":"q","jobSetId":"s","jobId":"done"}`),
    ...connect("invalid UTF-8", Buffer.from([0x7b, 0x22, 0x71, 0x75, 0x65, 0x75, 0x65, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])),
    ...connect("a body past the size limit", json({ ...valid, jobId: "x".repeat(MAX_REQUEST_BYTES * 2) })),
    ...connect("binary", Buffer.from(request("done")), { "content-type": "application/proto" }),
    ...connect("binary that is not protobuf", Buffer.from([0xff, 0xff]), { "content-type": "application/proto" }),
    ...connect("gzip-compressed JSON", gzipSync(json({ ...valid, jobId: "done" })), { ...JSON_TYPE, "content-encoding": "gzip" }),
    ...connect("JSON with a charset", json({ ...valid, jobId: "done" }), { "content-type": "application/json; charset=utf-8" }),
    ...connect("Health", "{}", JSON_TYPE, "/jobservice.JobService/Health"),
    ...connect("another queue (refused in basic mode)", json({ queue: "other", jobSetId: JOB_SET, jobId: "done" })),
    ...connect("with a password", json({ ...valid, jobId: "done" }), {
      ...JSON_TYPE,
      authorization: `basic ${Buffer.from("alice:alice-pw").toString("base64")}`,
    }),
    ...connect("a query string", json({ ...valid, jobId: "done" }), JSON_TYPE, `${GET_JOB_STATUS}?x=1`),
    {
      name: "Connect over HTTP/1.1: GET",
      http2: false,
      method: "GET",
      path: `${GET_JOB_STATUS}?encoding=json&message=${encodeURIComponent(json({ ...valid, jobId: "done" }))}`,
      headers: {},
      body: Buffer.alloc(0),
    },
    { name: "gRPC-Web", http2: false, path: GET_JOB_STATUS, headers: { "content-type": "application/grpc-web+proto" }, body: grpcFrame(request("done")) },
  ];
  // Random bodies from a fixed seed, in each protocol's framing and without it.
  const random = createPrng(20261202);
  for (let i = 0; i < 40; i++) {
    const bytes = Buffer.from(Array.from({ length: random.int(0, 64) }, () => random.int(0, 255)));
    probes.push(grpc(`random bytes ${i}`, i % 2 === 0 ? grpcFrame(bytes) : bytes));
    probes.push(...connect(`random JSON-ish ${i}`, i % 2 === 0 ? bytes : Buffer.from(`{"queue":"${bytes.toString("latin1")}"}`)));
  }
  return probes;
}

function send(origin: string, probe: Probe): Promise<Observed> {
  return probe.http2 ? sendHttp2(origin, probe) : sendHttp1(origin, probe);
}

function withoutDate(headers: [string, string][]): [string, string][] {
  return headers.filter(([name]) => name !== "date");
}

function sendHttp2(origin: string, probe: Probe): Promise<Observed> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(origin);
    session.on("error", reject);
    const stream = session.request({ ":method": probe.method ?? "POST", ":path": probe.path ?? GET_JOB_STATUS, ...probe.headers });
    let status = 0;
    let headers: [string, string][] = [];
    let trailers: [string, string][] = [];
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      headers = Object.entries(h)
        .filter(([name]) => !name.startsWith(":"))
        .map(([name, value]) => [name, String(value)]);
    });
    stream.on("trailers", (t) => (trailers = Object.entries(t).map(([name, value]) => [name, String(value)])));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      session.close();
      resolve({ status, headers: withoutDate(headers), trailers, body: Buffer.concat(chunks).toString("hex") });
    });
    stream.on("error", reject);
    stream.end(probe.body);
  });
}

function sendHttp1(origin: string, probe: Probe): Promise<Observed> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${origin}${probe.path ?? GET_JOB_STATUS}`, { method: probe.method ?? "POST", headers: probe.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const headers: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
        const trailers: [string, string][] = [];
        for (let i = 0; i < res.rawTrailers.length; i += 2) trailers.push([res.rawTrailers[i]!.toLowerCase(), res.rawTrailers[i + 1]!]);
        resolve({ status: res.statusCode ?? 0, headers: withoutDate(headers), trailers, body: Buffer.concat(chunks).toString("hex") });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(probe.body);
  });
}

async function metricLines(origin: string): Promise<string[]> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get(`${origin}/metrics`, { agent: false }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
  return text.split("\n");
}

/** The RPC counters of a service, which both paths must move alike. */
async function rpcCounters(origin: string): Promise<string[]> {
  return (await metricLines(origin)).filter(
    (line) => line.startsWith("jobservice_rpc_requests_total{") || line.startsWith("jobservice_rpc_duration_seconds_count{"),
  );
}

const dir = mkdtempSync(join(tmpdir(), "jobservice-fast-path-"));
const usersFile = join(dir, "users");
const permissionsFile = join(dir, "permissions.yaml");
writeFileSync(usersFile, `alice:${bcrypt.hashSync("alice-pw", 4)}:data-eng\n`);
writeFileSync(permissionsFile, `groups:\n  data-eng: [${QUEUE}]\n`);

describe.each([
  ["without caller checks", undefined],
  ["with basic caller checks", { ...AUTH_DEFAULTS, mode: "basic", usersFile, permissionsFile, cacheSeconds: 60 } satisfies AuthOptions],
] as const)("the fast path answers exactly as connect does, %s", (_name, auth) => {
  let fast: TestService;
  let reference: TestService;
  beforeAll(async () => {
    const store = createMemoryStore({ ttlSeconds: 600 });
    await seed(store);
    const start = (fastPath: boolean): Promise<TestService> => startTestService({ store, fastPath, auth, maxRequestBytes: MAX_REQUEST_BYTES });
    [fast, reference] = await Promise.all([start(true), start(false)]);
  });
  afterAll(async () => {
    await fast?.service.stop();
    await reference?.service.stop();
  });

  const probes = corpus();
  it.each(probes.map((probe) => [probe.name, probe] as const))("%s", async (_probeName, probe) => {
    const [actual, expected] = await Promise.all([send(fast.url, probe), send(reference.url, probe)]);
    expect(actual).toEqual(expected);
  });

  it("moves the RPC metrics exactly as connect does", async () => {
    expect(await rpcCounters(fast.url)).toEqual(await rpcCounters(reference.url));
  });

  it("took the well-formed calls itself, and left the rest to connect", async () => {
    const served = (await metricLines(fast.url)).filter((line) => line.startsWith("jobservice_rpc_fast_path_total{"));
    const count = (method: string): number => Number(served.find((line) => line.includes(`method="${method}"`))?.split(" ")[1] ?? 0);
    // At least the 13 plain gRPC and 24 plain Connect GetJobStatus probes (Connect bodies that do not parse
    // are answered here too, with connect's own parser and error encoding); gRPC-Web, GET and odd framing are connect's.
    expect(count("GetJobStatus")).toBeGreaterThanOrEqual(37);
    expect(count("Health")).toBe(3);
    expect(count("Check")).toBe(2);
    expect((await metricLines(reference.url)).some((line) => line.startsWith("jobservice_rpc_fast_path_total{"))).toBe(false);
  });
});
