import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV_TIMEOUT_MS, pythonEnv } from "../support/python-env.js";
import { jobRecord, seedJobs, State } from "../support/jobs.js";
import { startTestService, type TestService } from "../support/service.js";

const run = promisify(execFile);
const descriptorSet = join(mkdtempSync(join(tmpdir(), "jobservice-")), "jobservice.binpb");
const jobSet = { queue: "q", jobSetId: "scheduled__2024-01-01T00:00:00+00:00" };
let service: TestService;
let python: string;

beforeAll(async () => {
  python = (await pythonEnv("client")).python;
  await run("npx", ["buf", "build", "-o", descriptorSet]);
  service = await startTestService();
  await seedJobs(service.store, jobSet, { "failed-job": jobRecord(State.FAILED, { error: "exit code 137 (OOM)" }) });
}, ENV_TIMEOUT_MS);
afterAll(() => service.stop());

/** The README's grpcio example, run with the locked client environment (test/envs/client): what it printed and its exit code. */
async function pythonRun(jobId: string, ...flags: string[]): Promise<{ stdout: string; code: number }> {
  const args = ["examples/python/grpcio_client.py", descriptorSet, `127.0.0.1:${service.port}`, jobSet.queue, jobSet.jobSetId, jobId, ...flags];
  try {
    const { stdout } = await run(python, args);
    return { stdout: stdout.replace(/\n$/, ""), code: 0 };
  } catch (error) {
    const failed = error as { stdout?: string; code?: unknown };
    if (typeof failed.code !== "number") throw error;
    return { stdout: (failed.stdout ?? "").replace(/\n$/, ""), code: failed.code };
  }
}

/** What the example printed for an answer (exit code 0). */
async function pythonClient(jobId: string, ...flags: string[]): Promise<string> {
  const { stdout, code } = await pythonRun(jobId, ...flags);
  expect(code, stdout).toBe(0);
  return stdout;
}

/** What the example printed for a failed call (exit code 1). */
async function pythonFailure(jobId: string, ...flags: string[]): Promise<string> {
  const { stdout, code } = await pythonRun(jobId, ...flags);
  expect(code, stdout).toBe(1);
  return stdout;
}

describe("Python grpcio client", () => {
  it("reads a failed job's state and reason", async () => {
    expect(await pythonClient("failed-job")).toBe("FAILED\texit code 137 (OOM)");
  });

  it("reads JOB_ID_NOT_FOUND for an unknown job", async () => {
    expect(await pythonClient("unknown")).toBe("JOB_ID_NOT_FOUND\t");
  });

  it("can gzip-compress its request, as Go clients do", async () => {
    expect(await pythonClient("failed-job", "--gzip")).toBe("FAILED\texit code 137 (OOM)");
  });

  it("sees UNIMPLEMENTED for a method the service does not have, and exits 1", async () => {
    expect(await pythonFailure("x", "--method", "NoSuchMethod")).toMatch(/^UNIMPLEMENTED\t/);
  });

  it("sees INVALID_ARGUMENT naming an empty field, and exits 1", async () => {
    expect(await pythonFailure("")).toBe("INVALID_ARGUMENT\tjob_id must not be empty");
  });
});
