import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health as GrpcHealth, HealthCheckResponse_ServingStatus as GrpcStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { HealthCheckResponse_ServingStatus as ServingStatus, JobService } from "../../src/gen/jobservice/jobservice_pb.js";
import { jobRecord, seedJobs, State } from "../support/jobs.js";
import { startTestService, type TestService } from "../support/service.js";

let service: TestService;
const jobSet = { queue: "analytics", jobSetId: "scheduled__2024-01-01T00:00:00+00:00" };

beforeAll(async () => {
  service = await startTestService();
  await seedJobs(service.store, jobSet, {
    "job-ok": jobRecord(State.SUCCEEDED, { lastEvent: "succeeded" }),
    "job-bad": jobRecord(State.FAILED, { lastEvent: "failed", error: "OOMKilled: exit code 137" }),
    "job-run": jobRecord(State.RUNNING, { lastEvent: "running" }),
  });
  // Job sets read to their end without that job: only then is "not found" the truth.
  await seedJobs(service.store, { queue: "other", jobSetId: jobSet.jobSetId }, {});
  await seedJobs(service.store, { queue: jobSet.queue, jobSetId: "other" }, {});
});
afterAll(() => service.stop());

const protocols: Record<string, () => Transport> = {
  "gRPC over h2c": () => createGrpcTransport({ baseUrl: service.url }),
  "gzip-compressed gRPC over h2c": () => createGrpcTransport({ baseUrl: service.url, sendCompression: compressionGzip }),
  "gRPC-Web over HTTP/1.1": () => createGrpcWebTransport({ baseUrl: service.url, httpVersion: "1.1" }),
  "gRPC-Web over h2c": () => createGrpcWebTransport({ baseUrl: service.url, httpVersion: "2" }),
  "Connect JSON over HTTP/1.1": () => createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }),
  "Connect JSON over h2c": () => createConnectTransport({ baseUrl: service.url, httpVersion: "2" }),
  "Connect binary over HTTP/1.1": () => createConnectTransport({ baseUrl: service.url, httpVersion: "1.1", useBinaryFormat: true }),
  "Connect binary over h2c": () => createConnectTransport({ baseUrl: service.url, httpVersion: "2", useBinaryFormat: true }),
};

describe.each(Object.entries(protocols))("%s", (_name, transport) => {
  it("answers GetJobStatus from the store, with the failure reason for FAILED", async () => {
    const client = createClient(JobService, transport());
    const ask = (jobId: string) => client.getJobStatus({ ...jobSet, jobId });
    expect(await ask("job-ok")).toMatchObject({ state: State.SUCCEEDED, error: "" });
    expect(await ask("job-bad")).toMatchObject({ state: State.FAILED, error: "OOMKilled: exit code 137" });
    expect(await ask("job-run")).toMatchObject({ state: State.RUNNING });
  });

  it("answers JOB_ID_NOT_FOUND, not an error, for a job it does not know", async () => {
    const client = createClient(JobService, transport());
    expect(await client.getJobStatus({ ...jobSet, jobId: "nope" })).toMatchObject({ state: State.JOB_ID_NOT_FOUND });
  });

  it("never answers for a job of the same id in another queue or job set", async () => {
    const client = createClient(JobService, transport());
    expect((await client.getJobStatus({ queue: "other", jobSetId: jobSet.jobSetId, jobId: "job-ok" })).state).toBe(State.JOB_ID_NOT_FOUND);
    expect((await client.getJobStatus({ queue: jobSet.queue, jobSetId: "other", jobId: "job-ok" })).state).toBe(State.JOB_ID_NOT_FOUND);
  });

  it("rejects an empty id with INVALID_ARGUMENT naming the field", async () => {
    const client = createClient(JobService, transport());
    const error = await client.getJobStatus({ queue: "q", jobSetId: "", jobId: "j" }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).rawMessage).toContain("job_set_id");
  });

  it("serves jobservice Health and grpc.health.v1 Check", async () => {
    const jobs = createClient(JobService, transport());
    expect((await jobs.health(create(EmptySchema))).status).toBe(ServingStatus.SERVING);
    const health = createClient(GrpcHealth, transport());
    expect((await health.check({ service: "" })).status).toBe(GrpcStatus.SERVING);
    expect((await health.check({ service: "jobservice.JobService" })).status).toBe(GrpcStatus.SERVING);
    const unknown = await health.check({ service: "no.Such" }).catch((e: unknown) => ConnectError.from(e));
    expect((unknown as ConnectError).code).toBe(Code.NotFound);
  });
});

describe("grpc.health.v1 Watch", () => {
  it("streams the current status first", async () => {
    const health = createClient(GrpcHealth, createGrpcTransport({ baseUrl: service.url }));
    const controller = new AbortController();
    for await (const message of health.watch({ service: "" }, { signal: controller.signal })) {
      expect(message.status).toBe(GrpcStatus.SERVING);
      controller.abort();
      break;
    }
  });
});

describe("deadlines", () => {
  it("gives up with DEADLINE_EXCEEDED when the answer takes longer than the caller allows", async () => {
    const slow = await startTestService({
      status: {
        status: (_key, { signal }) => new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
        lookup: (_jobSet, _ids, { signal }) => new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      },
    });
    try {
      for (const transport of [createGrpcTransport({ baseUrl: slow.url }), createConnectTransport({ baseUrl: slow.url, httpVersion: "1.1" })]) {
        const client = createClient(JobService, transport);
        const error = await client.getJobStatus({ ...jobSet, jobId: "x" }, { timeoutMs: 200 }).catch((e: unknown) => ConnectError.from(e));
        expect((error as ConnectError).code).toBe(Code.DeadlineExceeded);
      }
    } finally {
      await slow.stop();
    }
  });
});
