import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcFrame, http1Request, http2Request } from "../support/http.js";
import { seedJobs } from "../support/jobs.js";
import { startTestService, type TestService } from "../support/service.js";

let service: TestService;
beforeAll(async () => {
  service = await startTestService({ maxRequestBytes: 4096 });
  await seedJobs(service.store, { queue: "q", jobSetId: "s" }, {});
});
afterAll(() => service.stop());

const getJobStatus = "/jobservice.JobService/GetJobStatus";
const json = { "content-type": "application/json" };

describe("Connect JSON over plain HTTP/1.1 (what Airflow sends)", () => {
  it("answers JOB_ID_NOT_FOUND for a job its job set, read to the end, does not have", async () => {
    const res = await http1Request(service.url + getJobStatus, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ queue: "q", jobSetId: "s", jobId: "j" }),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ state: "JOB_ID_NOT_FOUND" });
  });

  it("accepts the proto field names too, and ignores unknown fields", async () => {
    const res = await http1Request(service.url + getJobStatus, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ queue: "q", job_set_id: "s", job_id: "j", future_field: 1 }),
    });
    expect(JSON.parse(res.body)).toEqual({ state: "JOB_ID_NOT_FOUND" });
  });

  it("answers malformed JSON with invalid_argument", async () => {
    const res = await http1Request(service.url + getJobStatus, { method: "POST", headers: json, body: "{not json" });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).code).toBe("invalid_argument");
  });

  it("answers a wrongly typed field with invalid_argument", async () => {
    const res = await http1Request(service.url + getJobStatus, { method: "POST", headers: json, body: JSON.stringify({ queue: 5 }) });
    expect(JSON.parse(res.body).code).toBe("invalid_argument");
  });

  it("names every empty field", async () => {
    const res = await http1Request(service.url + getJobStatus, { method: "POST", headers: json, body: "{}" });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: "invalid_argument", message: "queue, job_set_id, job_id must not be empty" });
  });

  it("refuses an oversized request with resource_exhausted", async () => {
    const res = await http1Request(service.url + getJobStatus, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ queue: "q", jobSetId: "s", jobId: "j".repeat(10_000) }),
    });
    expect(JSON.parse(res.body).code).toBe("resource_exhausted");
  });

  it("answers an unknown method with unimplemented", async () => {
    const res = await http1Request(service.url + "/jobservice.JobService/NoSuchMethod", { method: "POST", headers: json, body: "{}" });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body).code).toBe("unimplemented");
  });
});

describe("gRPC edge cases over h2c", () => {
  const grpcHeaders = (path: string) => ({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });

  it("answers an unknown method with grpc-status 12 (UNIMPLEMENTED), not an HTTP 404", async () => {
    const res = await http2Request(service.url, grpcHeaders("/jobservice.JobService/NoSuchMethod"), grpcFrame(new Uint8Array()));
    expect(res.status).toBe(200);
    expect(res.headers["grpc-status"] ?? res.trailers["grpc-status"]).toBe("12");
  });

  it("answers an unknown service the same way", async () => {
    const res = await http2Request(service.url, grpcHeaders("/no.Such/Method"), grpcFrame(new Uint8Array()));
    expect(res.headers["grpc-status"] ?? res.trailers["grpc-status"]).toBe("12");
  });

  it("answers a truncated frame with INVALID_ARGUMENT", async () => {
    const frame = grpcFrame(new Uint8Array(100)).subarray(0, 20);
    const res = await http2Request(service.url, grpcHeaders(getJobStatus), frame);
    expect(res.trailers["grpc-status"] ?? res.headers["grpc-status"]).toBe("3");
  });

  it("answers an undecodable message with an error status and keeps serving", async () => {
    const garbage = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const res = await http2Request(service.url, grpcHeaders(getJobStatus), grpcFrame(garbage));
    // connect-es reports protobuf decode failures as INTERNAL ("parse binary: …").
    expect(res.trailers["grpc-status"] ?? res.headers["grpc-status"]).toBe("13");
    expect(decodeURIComponent(String(res.trailers["grpc-message"]))).toContain("parse binary");
    expect((await http1Request(service.url + "/healthz")).status).toBe(200);
  });

  it("refuses an oversized message with RESOURCE_EXHAUSTED", async () => {
    const res = await http2Request(service.url, grpcHeaders(getJobStatus), grpcFrame(new Uint8Array(10_000)));
    expect(res.trailers["grpc-status"] ?? res.headers["grpc-status"]).toBe("8");
  });
});

describe("plain HTTP routes on the same port", () => {
  it("serves /healthz, /readyz and /metrics over HTTP/1.1", async () => {
    expect((await http1Request(service.url + "/healthz")).status).toBe(200);
    const ready = await http1Request(service.url + "/readyz");
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ ready: true, checks: { store: { ok: true } } });
    const metrics = await http1Request(service.url + "/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain("jobservice_rpc_requests_total");
  });

  it("serves them over h2c too", async () => {
    const res = await http2Request(service.url, { ":method": "GET", ":path": "/healthz" });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: "ok" });
  });

  it("answers an unknown path with 404", async () => {
    expect((await http1Request(service.url + "/nope")).status).toBe(404);
  });
});

describe("garbage on the wire", () => {
  function sendRaw(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      const socket = net.connect(service.port, "127.0.0.1", () => socket.end(bytes));
      socket.on("data", () => undefined);
      socket.on("close", () => resolve());
      socket.on("error", () => resolve());
    });
  }
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

  it("never takes the process down: broken frames, bad request lines, noise", async () => {
    await sendRaw(Buffer.concat([preface, Buffer.from([0, 0, 5, 0xff, 0xff, 0, 0, 0, 1, 1, 2, 3, 4, 5])]));
    await sendRaw(Buffer.concat([preface, Buffer.alloc(100, 0xff)]));
    await sendRaw(Buffer.from("GET / HTTP/9.9\r\nbad header\r\n\r\n"));
    await sendRaw(Buffer.alloc(5000, 0x41));
    expect((await http1Request(service.url + "/healthz")).status).toBe(200);
    expect((await http2Request(service.url, { ":method": "GET", ":path": "/healthz" })).status).toBe(200);
  });
});
