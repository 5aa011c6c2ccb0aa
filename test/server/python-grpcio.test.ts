import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobRecord, seedJobs, State } from "../support/jobs.js";
import { startTestService, type TestService } from "../support/service.js";

const run = promisify(execFile);
const descriptorSet = join(mkdtempSync(join(tmpdir(), "jobservice-")), "jobservice.binpb");
const jobSet = { queue: "q", jobSetId: "scheduled__2024-01-01T00:00:00+00:00" };
let service: TestService;

beforeAll(async () => {
  await run("npx", ["buf", "build", "-o", descriptorSet]);
  service = await startTestService();
  await seedJobs(service.store, jobSet, { "failed-job": jobRecord(State.FAILED, { error: "exit code 137 (OOM)" }) });
});
afterAll(() => service.stop());

/** The README's grpcio example, run with Debian's python3 and python3-grpcio. */
async function pythonClient(jobId: string, ...flags: string[]): Promise<string> {
  const args = ["examples/python/grpcio_client.py", descriptorSet, `127.0.0.1:${service.port}`, jobSet.queue, jobSet.jobSetId, jobId, ...flags];
  const { stdout } = await run("/usr/bin/python3", args);
  return stdout.replace(/\n$/, "");
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

  it("sees UNIMPLEMENTED for a method the service does not have", async () => {
    expect(await pythonClient("x", "--method", "NoSuchMethod")).toMatch(/^UNIMPLEMENTED\t/);
  });

  it("sees INVALID_ARGUMENT naming an empty field", async () => {
    expect(await pythonClient("")).toBe("INVALID_ARGUMENT\tjob_id must not be empty");
  });
});
