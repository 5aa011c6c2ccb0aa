/**
 * The service as a process, over the wire only: the listener (HTTP/1.1 and h2c
 * on one port, TLS), following Armada, the Redis store across a restart, and
 * graceful shutdown on SIGTERM. It runs the sources on Node, and the built
 * binary under `npm run test:binary` (JOBSERVICE_TEST_BINARY), so every one of
 * these behaviours is checked on both runtimes.
 */
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { http2Request } from "../support/http.js";
import { runJobservice, type RunningProcess } from "../support/process.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { armadaClients } from "../support/simulator.js";
import { eventually } from "../subscriber/harness.js";
import { selfSignedCertificate } from "../support/tls.js";

const QUEUE = "q";
const started: RunningProcess[] = [];
let redis: RedisServer;
let armadaUrl: string;

function launch(args: string[]): RunningProcess {
  const child = runJobservice(args);
  started.push(child);
  return child;
}

/** `jobservice serve` on a free loopback port; resolves once it is listening. */
async function serve(flags: string[] = [], armada = armadaUrl): Promise<{ process: RunningProcess; url: string; port: number }> {
  const process = launch(["serve", "--host", "127.0.0.1", "--port", "0", "--armada-url", armada, ...flags]);
  const { port, tls: secure } = await process.waitForLog((line) => line.msg === "listening");
  return { process, port: Number(port), url: `${secure === true ? "https" : "http"}://127.0.0.1:${String(port)}` };
}

async function control(path: string, body?: unknown): Promise<unknown> {
  const headers = body === undefined ? { ":path": path } : { ":method": "POST", ":path": path, "content-type": "application/json" };
  const response = await http2Request(armadaUrl, headers, body === undefined ? undefined : JSON.stringify(body));
  return JSON.parse(response.body) as unknown;
}

async function streamCalls(jobSetId: string): Promise<Array<{ fromMessageId?: string; watch?: boolean; jobSetId: string }>> {
  const { calls } = (await control("/control/calls?method=GetJobSetEvents")) as { calls: Array<{ fromMessageId?: string; jobSetId: string }> };
  return calls.filter((call) => call.jobSetId === jobSetId);
}

function submit(jobSetId: string, annotations: Array<Record<string, string>>): Promise<string[]> {
  return armadaClients(armadaUrl)
    .submit.submitJobs({ queue: QUEUE, jobSetId, jobRequestItems: annotations.map((a) => ({ annotations: a })) })
    .then((response) => response.jobResponseItems.map((item) => item.jobId));
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", () => resolve(true));
  });
}

/** Two HTTP/1.1 requests on one keep-alive connection, written by hand. */
function twoRequestsOnOneConnection(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write("GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
      setTimeout(() => socket.write("GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"), 20);
    });
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
  });
}

beforeAll(async () => {
  redis = await startRedisServer();
  const armada = launch(["simulate", "--port", "0", "--queue", QUEUE, "--queued-ms", "1", "--pending-ms", "1", "--start-ms", "1", "--run-ms", "5"]);
  armadaUrl = String((await armada.waitForLog((line) => line.msg === "Armada simulator listening")).url);
});
afterAll(async () => {
  for (const { child } of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await redis.stop();
});

describe("one port, every protocol", () => {
  let service: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    service = await serve();
  });
  afterAll(() => service.process.child.kill("SIGTERM"));

  it("serves two HTTP/1.1 requests on one keep-alive connection", async () => {
    const received = await twoRequestsOnOneConnection(service.port);
    expect(received.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
  });

  it.each<[string, (url: string) => Transport]>([
    ["gRPC over h2c", (url) => createGrpcTransport({ baseUrl: url })],
    ["gRPC-Web over HTTP/1.1", (url) => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" })],
    ["Connect JSON over HTTP/1.1", (url) => createConnectTransport({ baseUrl: url, httpVersion: "1.1" })],
    ["Connect binary over h2c", (url) => createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true })],
  ])("answers GetJobStatus over %s, several calls on one connection", async (_name, transport) => {
    const client = createClient(JobService, transport(service.url));
    const answers = await Promise.all(["a", "b", "c"].map((jobId) => client.getJobStatus({ queue: QUEUE, jobSetId: "empty", jobId })));
    expect(answers.map((a) => a.state)).toEqual([State.JOB_ID_NOT_FOUND, State.JOB_ID_NOT_FOUND, State.JOB_ID_NOT_FOUND]);
  });
});

describe("following Armada into the Redis store", () => {
  it("reports each job's final state, and after a restart answers from the store and resumes after the stored cursor", async () => {
    const jobSetId = "restart";
    const [ok, oom, cancelled] = await submit(jobSetId, [
      { "armada-sim/outcome": "succeeded" },
      { "armada-sim/exit-code": "137", "armada-sim/cause": "OOM" },
      { "armada-sim/outcome": "cancelled" },
    ]);
    const first = await serve(["--store", redis.url]);
    const client = createClient(JobService, createConnectTransport({ baseUrl: first.url, httpVersion: "1.1" }));
    const ask = (url: string, jobId: string | undefined) =>
      createClient(JobService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" })).getJobStatus({ queue: QUEUE, jobSetId, jobId: jobId ?? "" });
    await eventually(
      () => Promise.all([ok, oom, cancelled].map((id) => ask(first.url, id))),
      (answers) => answers.every((a) => a.state === State.SUCCEEDED || a.state === State.FAILED || a.state === State.CANCELLED),
      10_000,
    );
    expect((await client.getJobStatus({ queue: QUEUE, jobSetId, jobId: ok! })).state).toBe(State.SUCCEEDED);
    const failed = await client.getJobStatus({ queue: QUEUE, jobSetId, jobId: oom! });
    expect(failed.state).toBe(State.FAILED);
    expect(failed.error).toContain("exit code 137");
    expect((await client.getJobStatus({ queue: QUEUE, jobSetId, jobId: cancelled! })).state).toBe(State.CANCELLED);
    first.process.child.kill("SIGTERM");
    expect(await first.process.exited).toBe(0);

    // Without Armada, a new process still knows every finished job: it was in Redis.
    const cut = await serve(["--store", redis.url, "--catch-up-wait-ms", "200"], "http://127.0.0.1:1");
    expect((await ask(cut.url, oom)).state).toBe(State.FAILED);
    expect((await ask(cut.url, cancelled)).state).toBe(State.CANCELLED);
    cut.process.child.kill("SIGTERM");
    expect(await cut.process.exited).toBe(0);

    // With Armada back, the next process goes on from the stored cursor, not from the start.
    const callsBefore = (await streamCalls(jobSetId)).length;
    const second = await serve(["--store", redis.url]);
    expect((await ask(second.url, ok)).state).toBe(State.SUCCEEDED);
    await eventually(
      () => streamCalls(jobSetId),
      (calls) => calls.length > callsBefore,
    );
    const resumed = (await streamCalls(jobSetId)).slice(callsBefore);
    expect(resumed.every((call) => call.fromMessageId !== undefined && call.fromMessageId !== "")).toBe(true);
    second.process.child.kill("SIGTERM");
    expect(await second.process.exited).toBe(0);
  });
});

describe("TLS", () => {
  const certificate = selfSignedCertificate();
  let service: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    service = await serve(["--tls-cert-file", certificate.certFile, "--tls-key-file", certificate.keyFile]);
  });
  afterAll(() => service.process.child.kill("SIGTERM"));

  it("offers h2 and http/1.1 by ALPN", async () => {
    for (const protocol of ["h2", "http/1.1"]) {
      const negotiated = await new Promise<string | false>((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port: service.port, ca: certificate.cert, ALPNProtocols: [protocol] }, () => {
          resolve(socket.alpnProtocol ?? false);
          socket.end();
        });
        socket.on("error", reject);
      });
      expect(negotiated).toBe(protocol);
    }
  });

  it("serves gRPC over h2 and Connect JSON over HTTPS/1.1", async () => {
    for (const transport of [
      createGrpcTransport({ baseUrl: service.url, nodeOptions: { ca: certificate.cert } }),
      createConnectTransport({ baseUrl: service.url, httpVersion: "1.1", nodeOptions: { ca: certificate.cert } }),
    ]) {
      const answer = await createClient(JobService, transport).getJobStatus({ queue: QUEUE, jobSetId: "tls", jobId: "j" });
      expect(answer.state).toBe(State.JOB_ID_NOT_FOUND);
    }
  });
});

describe("graceful shutdown on SIGTERM", () => {
  /** A call whose job set's history is held back by a stalled stream, so it is still waiting when SIGTERM comes. */
  async function callInFlight(url: string, jobSetId: string): Promise<{ answer: Promise<string> }> {
    const [jobId] = await submit(jobSetId, [{ "armada-sim/duration-ms": "60000" }]);
    await control("/control/stall", { ms: 60_000 });
    const answer = createClient(JobService, createGrpcTransport({ baseUrl: url }))
      // The deadline bounds the test: under Bun the cut-off stream gets no RST_STREAM, so after GOAWAY a
      // Node http2 client may not notice the cut-off until its own deadline (see README, "Builds").
      .getJobStatus({ queue: QUEUE, jobSetId, jobId: jobId! }, { timeoutMs: 3_000 })
      .then(
        (reply) => State[reply.state] ?? String(reply.state),
        () => "no answer",
      );
    await eventually(
      () => streamCalls(jobSetId),
      (calls) => calls.length > 0,
    );
    return { answer };
  }

  it("lets a call in flight finish while refusing new connections, then exits 0", async () => {
    const service = await serve(["--shutdown-grace-seconds", "15", "--catch-up-wait-ms", "15000"]);
    try {
      const { answer } = await callInFlight(service.url, "drain");
      service.process.child.kill("SIGTERM");
      await eventually(() => refusesConnections(service.port), Boolean);
      await control("/control/unstall", {});
      expect(await answer).toBe("RUNNING");
      expect(await service.process.exited).toBe(0);
      expect(service.process.logs.some((line) => line.msg === "stopped")).toBe(true);
    } finally {
      await control("/control/unstall", {});
    }
  });

  it("cuts off a call that outlives the grace period, and still exits 0", async () => {
    const service = await serve(["--shutdown-grace-seconds", "0", "--catch-up-wait-ms", "15000"]);
    try {
      const { answer } = await callInFlight(service.url, "cut");
      service.process.child.kill("SIGTERM");
      // The call would wait 15 s for its history; the process does not wait for it.
      expect(await service.process.exited).toBe(0);
      expect(await answer).toBe("no answer");
    } finally {
      await control("/control/unstall", {});
    }
  });
});
