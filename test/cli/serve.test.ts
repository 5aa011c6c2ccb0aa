import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJobservice, type RunningProcess } from "../support/process.js";

const run = promisify(execFile);
let service: RunningProcess;
let port: number;

beforeAll(async () => {
  service = runJobservice(["serve", "--port", "0", "--host", "127.0.0.1"]);
  const listening = await service.waitForLog((line) => line.msg === "listening");
  port = Number(listening.port);
});
afterAll(async () => {
  if (service.child.exitCode === null) service.child.kill("SIGKILL");
});

describe("jobservice serve", () => {
  it("answers the README's curl example", async () => {
    const { stdout } = await run("curl", [
      "-s",
      "-H",
      "content-type: application/json",
      "-d",
      '{"queue":"q","jobSetId":"s","jobId":"j"}',
      `http://127.0.0.1:${port}/jobservice.JobService/GetJobStatus`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ state: "JOB_ID_NOT_FOUND" });
  });

  it("answers buf curl over gRPC with prior knowledge, using the project's protos", async () => {
    const { stdout } = await run("npx", [
      "buf", "curl", "--schema", "proto", "--protocol", "grpc", "--http2-prior-knowledge",
      "-d", '{"queue":"q","jobSetId":"s","jobId":"j"}',
      `http://127.0.0.1:${port}/jobservice.JobService/GetJobStatus`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ state: "JOB_ID_NOT_FOUND" });
  });

  it("answers buf curl over gRPC-Web", async () => {
    const { stdout } = await run("npx", [
      "buf", "curl", "--schema", "proto", "--protocol", "grpcweb",
      `http://127.0.0.1:${port}/grpc.health.v1.Health/Check`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  });

  it("logs JSON lines and stops with exit code 0 on SIGTERM", async () => {
    expect(service.logs.every((line) => typeof line.level === "number" && typeof line.time === "number")).toBe(true);
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    expect(service.logs.some((line) => line.msg === "stopped")).toBe(true);
  });
});

describe("jobservice serve with a bad configuration", () => {
  it("exits 2 at start-up naming each bad setting", async () => {
    const bad = runJobservice(["serve"], { JOBSERVICE_PORT: "99999", JOBSERVICE_STORE: "ftp://x" });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain("JOBSERVICE_PORT (--port): expected a whole number from 0 to 65535");
    expect(bad.stderr()).toContain("JOBSERVICE_STORE (--store)");
  });

  it("never echoes the Upstash token", async () => {
    const bad = runJobservice(["serve"], { JOBSERVICE_STORE: "https://x.example.io", JOBSERVICE_PORT: "nope", UPSTASH_REDIS_REST_TOKEN: "s3cr3t-token" });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).not.toContain("s3cr3t-token");
  });
});
