import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJobservice, type RunningProcess } from "../support/process.js";

const run = promisify(execFile);
const started: RunningProcess[] = [];

beforeAll(async () => {
  await run("npm", ["run", "build:binary"], { timeout: 120_000 });
}, 150_000);
afterAll(() => {
  for (const { child } of started) if (child.exitCode === null) child.kill("SIGKILL");
});

/** Runs the simulator and the service from one build, then asks about a job as Airflow would. */
async function askThroughBuild(launcher: string[]): Promise<unknown> {
  const armada = runJobservice(["simulate", "--port", "0", "--queue", "q"], {}, launcher);
  started.push(armada);
  const { url } = await armada.waitForLog((line) => line.msg === "Armada simulator listening");
  const service = runJobservice(["serve", "--host", "127.0.0.1", "--port", "0", "--armada-url", String(url)], {}, launcher);
  started.push(service);
  const { port } = await service.waitForLog((line) => line.msg === "listening");
  const { stdout } = await run("curl", ["-s", "-H", "content-type: application/json", "-d", '{"queue":"q","jobSetId":"s","jobId":"j"}',
    `http://127.0.0.1:${String(port)}/jobservice.JobService/GetJobStatus`]);
  service.child.kill("SIGTERM");
  armada.child.kill("SIGTERM");
  expect(await service.exited).toBe(0);
  return JSON.parse(stdout);
}

describe("builds", () => {
  it("the bundled file runs on its own, away from the checkout and its node_modules", async () => {
    const elsewhere = join(mkdtempSync(join(tmpdir(), "jobservice-bundle-")), "jobservice.cjs");
    copyFileSync("dist/jobservice.cjs", elsewhere);
    expect(await askThroughBuild([process.execPath, elsewhere])).toEqual({ state: "JOB_ID_NOT_FOUND" });
  }, 60_000);

  it("the single executable runs as one file, away from the checkout", async () => {
    const elsewhere = join(mkdtempSync(join(tmpdir(), "jobservice-binary-")), "jobservice");
    copyFileSync(resolve("dist/jobservice"), elsewhere);
    await run("chmod", ["+x", elsewhere]);
    expect(await askThroughBuild([elsewhere])).toEqual({ state: "JOB_ID_NOT_FOUND" });
  }, 60_000);
});
