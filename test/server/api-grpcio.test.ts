import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENV_TIMEOUT_MS, pythonEnv } from "../support/python-env.js";
import { eventually } from "../subscriber/harness.js";
import { jobRecord, seedJobs, State, writeNext } from "../support/jobs.js";
import { startTestService, type TestService } from "../support/service.js";

const run = promisify(execFile);
const descriptorSet = join(mkdtempSync(join(tmpdir(), "jobservice-")), "jobservice.binpb");
const jobSet = { queue: "q", jobSetId: "s" };
let service: TestService;
let python: string;

beforeAll(async () => {
  python = (await pythonEnv("client")).python;
  await run("npx", ["buf", "build", "-o", descriptorSet]);
  service = await startTestService();
  await seedJobs(service.store, jobSet, {
    done: jobRecord(State.SUCCEEDED, { lastEvent: "succeeded", messageId: "3:0:0:1", cluster: "eu-1" }),
    busy: jobRecord(State.RUNNING, { lastEvent: "running", messageId: "2:0:0:1" }),
  });
}, ENV_TIMEOUT_MS);
afterAll(() => service.stop());

/** The README's grpcio example for the newer RPCs, run with the locked client environment (test/envs/client). */
async function call(method: string, request: object, ...flags: string[]): Promise<unknown[]> {
  return (await callWithCode(method, request, ...flags)).lines;
}

/** The lines printed and the exit code: 1 for a failed call, 0 otherwise (a watch cut off by --timeout included). */
async function callWithCode(method: string, request: object, ...flags: string[]): Promise<{ lines: unknown[]; code: number }> {
  const args = ["examples/python/grpcio_api.py", descriptorSet, `127.0.0.1:${service.port}`, method, JSON.stringify(request), ...flags];
  const { stdout, code } = await run(python, args).then(
    ({ stdout }) => ({ stdout, code: 0 }),
    (error: { stdout?: string; code?: unknown }) => {
      if (typeof error.code !== "number") throw error;
      return { stdout: error.stdout ?? "", code: error.code };
    },
  );
  const lines = stdout
    .trim()
    .split("\n")
    .map((line) => (line.startsWith("{") ? (JSON.parse(line) as unknown) : line));
  return { lines, code };
}

describe("Python grpcio client, newer RPCs", () => {
  it("GetJobStatuses", async () => {
    expect(await call("GetJobStatuses", { ...jobSet, jobIds: ["done", "nope", "done"] })).toEqual([
      { statuses: { done: { state: "SUCCEEDED" }, nope: { state: "JOB_ID_NOT_FOUND" } } },
    ]);
  });

  it("GetJobDetails", async () => {
    const [details] = await call("GetJobDetails", { ...jobSet, jobId: "done" });
    expect(details).toMatchObject({ state: "SUCCEEDED", cluster: "eu-1", lastMessageId: "3:0:0:1", freshness: { cursor: "9:0:0:0", healthy: true } });
  });

  it("WatchJobStatus of a finished job: its state, then the stream ends", async () => {
    expect(await call("WatchJobStatus", { ...jobSet, jobId: "done" })).toEqual([{ state: "SUCCEEDED" }]);
  });

  it("WatchJobStatus follows a job to its end", async () => {
    const watching = call("WatchJobStatus", { ...jobSet, jobId: "busy" });
    // Python has connected and been answered once the watch is open; then the job fails.
    await eventually(
      () => service.service.metrics.metrics(),
      (text) => text.includes("jobservice_watches_open 1"),
    );
    await writeNext(service.store, jobSet, {
      jobs: new Map([["busy", jobRecord(State.FAILED, { error: "OOMKilled" })]]),
      progress: { cursor: "10:0:0:0", caughtUp: true, error: "", updatedAt: Date.now() },
    });
    expect(await watching).toEqual([{ state: "RUNNING" }, { state: "FAILED", error: "OOMKilled" }]);
  });

  it("WatchJobSet until the deadline", async () => {
    const { lines, code } = await callWithCode("WatchJobSet", jobSet, "--timeout", "1");
    expect(code).toBe(0);
    expect(lines.at(-1)).toMatch(/^DEADLINE_EXCEEDED\t/);
    expect(lines.slice(0, -1)).toContainEqual({ jobId: "done", messageId: "3:0:0:1", status: { state: "SUCCEEDED" } });
  });

  it("sees INVALID_ARGUMENT naming an empty field, and exits 1", async () => {
    expect(await callWithCode("GetJobStatuses", { queue: "q", jobSetId: "", jobIds: ["a"] })).toEqual({
      lines: ["INVALID_ARGUMENT\tjob_set_id must not be empty"],
      code: 1,
    });
  });
});
