import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJobservice, type RunningProcess } from "../support/process.js";

const run = promisify(execFile);
let armada: RunningProcess;
let service: RunningProcess;
let port: number;

beforeAll(async () => {
  armada = runJobservice(["simulate", "--port", "0", "--queue", "q"]);
  const simulator = await armada.waitForLog((line) => line.msg === "Armada simulator listening");
  service = runJobservice(["serve", "--port", "0", "--host", "127.0.0.1", "--armada-url", String(simulator.url)]);
  const listening = await service.waitForLog((line) => line.msg === "listening");
  port = Number(listening.port);
});
afterAll(async () => {
  for (const child of [service.child, armada.child]) if (child.exitCode === null) child.kill("SIGKILL");
});

describe("jobservice serve", () => {
  it("answers the README's curl example: Armada has no such job", async () => {
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
      "buf",
      "curl",
      "--schema",
      "proto",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-d",
      '{"queue":"q","jobSetId":"s","jobId":"j"}',
      `http://127.0.0.1:${port}/jobservice.JobService/GetJobStatus`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ state: "JOB_ID_NOT_FOUND" });
  });

  it("answers buf curl over gRPC-Web", async () => {
    const { stdout } = await run("npx", ["buf", "curl", "--schema", "proto", "--protocol", "grpcweb", `http://127.0.0.1:${port}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  });

  it("is ready once the store and Armada answer", async () => {
    const { stdout } = await run("curl", ["-s", `http://127.0.0.1:${port}/readyz`]);
    expect(JSON.parse(stdout)).toEqual({ ready: true, checks: { store: { ok: true }, armada: { ok: true } } });
  });

  it("logs JSON lines and stops with exit code 0 on SIGTERM", async () => {
    expect(service.logs.every((line) => typeof line.level === "number" && typeof line.time === "number")).toBe(true);
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    expect(service.logs.some((line) => line.msg === "stopped")).toBe(true);
  });
});

describe("jobservice serve without a reachable Armada", () => {
  it("answers CONNECTION_ERR with the reason, and is not ready", async () => {
    const lonely = runJobservice(["serve", "--port", "0", "--host", "127.0.0.1", "--armada-url", "http://127.0.0.1:1", "--catch-up-wait-ms", "500"]);
    try {
      const listening = await lonely.waitForLog((line) => line.msg === "listening");
      const url = `http://127.0.0.1:${String(listening.port)}`;
      const { stdout } = await run("curl", [
        "-s",
        "-H",
        "content-type: application/json",
        "-d",
        '{"queue":"q","jobSetId":"s","jobId":"j"}',
        `${url}/jobservice.JobService/GetJobStatus`,
      ]);
      const answer = JSON.parse(stdout) as { state: string; error: string };
      expect(answer.state).toBe("CONNECTION_ERR");
      expect(answer.error).not.toBe("");
      const ready = await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `${url}/readyz`]);
      expect(ready.stdout).toBe("503");
    } finally {
      lonely.child.kill("SIGTERM");
      expect(await lonely.exited).toBe(0);
    }
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
