import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJobservice, type RunningProcess } from "../support/process.js";

const run = promisify(execFile);
const started: RunningProcess[] = [];

beforeAll(async () => {
  await run("npm", ["run", "build"], { timeout: 120_000 });
  await run("npm", ["run", "build:binary"], { timeout: 120_000 });
}, 150_000);
afterAll(() => {
  for (const { child } of started) if (child.exitCode === null) child.kill("SIGKILL");
});

/** A copy of the built binary alone in a fresh temporary directory. */
function binaryElsewhere(): string {
  const elsewhere = join(mkdtempSync(join(tmpdir(), "jobservice-binary-")), "jobservice");
  copyFileSync(resolve("dist/jobservice"), elsewhere);
  chmodSync(elsewhere, 0o755);
  return elsewhere;
}

/** Runs the simulator and the service from one build, then asks about a job as Airflow would. */
async function askThroughBuild(launcher: string[], cwd: string): Promise<unknown> {
  const armada = runJobservice(["simulate", "--port", "0", "--queue", "q"], {}, launcher, { cwd });
  started.push(armada);
  const { url } = await armada.waitForLog((line) => line.msg === "Armada simulator listening");
  const service = runJobservice(["serve", "--host", "127.0.0.1", "--port", "0", "--armada-url", String(url)], {}, launcher, { cwd });
  started.push(service);
  const { port } = await service.waitForLog((line) => line.msg === "listening");
  const { stdout } = await run("curl", [
    "-s",
    "-H",
    "content-type: application/json",
    "-d",
    '{"queue":"q","jobSetId":"s","jobId":"j"}',
    `http://127.0.0.1:${String(port)}/jobservice.JobService/GetJobStatus`,
  ]);
  service.child.kill("SIGTERM");
  armada.child.kill("SIGTERM");
  expect(await service.exited).toBe(0);
  return JSON.parse(stdout);
}

describe("builds", () => {
  it("the bundled file runs on its own, away from the checkout and its node_modules", async () => {
    const elsewhere = join(mkdtempSync(join(tmpdir(), "jobservice-bundle-")), "jobservice.cjs");
    copyFileSync("dist/jobservice.cjs", elsewhere);
    expect(await askThroughBuild([process.execPath, elsewhere], dirname(elsewhere))).toEqual({ state: "JOB_ID_NOT_FOUND" });
  }, 60_000);

  it("the single binary runs serve and simulate as one file, away from the checkout", async () => {
    const binary = binaryElsewhere();
    expect(await askThroughBuild([binary], dirname(binary))).toEqual({ state: "JOB_ID_NOT_FOUND" });
  }, 60_000);

  it("the single binary runs the demo to its end, away from the checkout", async () => {
    const binary = binaryElsewhere();
    const { stdout } = await run(binary, ["demo", "--port", "0", "--timeout-s", "60"], { timeout: 90_000, cwd: dirname(binary) });
    expect(stdout).toContain("All jobs finished.");
  }, 100_000);

  it("ignores a .env and a bunfig.toml in its working directory", async () => {
    const binary = binaryElsewhere();
    writeFileSync(join(dirname(binary), ".env"), "JOBSERVICE_STORE=ftp://from-dotenv\n");
    writeFileSync(join(dirname(binary), "bunfig.toml"), 'preload = ["./missing.ts"]\n');
    const { stdout } = await run(binary, ["help"], { cwd: dirname(binary) });
    expect(stdout).toContain("Usage: jobservice <command>");
    const service = runJobservice(["serve", "--host", "127.0.0.1", "--port", "0", "--armada-url", "http://127.0.0.1:1"], {}, [binary], {
      cwd: dirname(binary),
    });
    started.push(service);
    await service.waitForLog((line) => line.msg === "listening");
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
  }, 30_000);
});
