/**
 * A Redis store that is down, as a user meets it: every call, /readyz and the
 * log name the real cause in our words, calls answer without waiting behind
 * reconnect attempts, and the log says it once per change.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { runJobservice, type RunningProcess } from "../support/process.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { eventually } from "../subscriber/harness.js";

const run = promisify(execFile);
const started: RunningProcess[] = [];
const redisServers: RedisServer[] = [];
afterAll(async () => {
  for (const { child } of started) if (child.exitCode === null) child.kill("SIGKILL");
  for (const redis of redisServers) await redis.stop();
});

async function serve(store: string): Promise<{ process: RunningProcess; url: string }> {
  const process = runJobservice(["serve", "--host", "127.0.0.1", "--port", "0", "--armada-url", "http://127.0.0.1:1", "--store", store]);
  started.push(process);
  const { port } = await process.waitForLog((line) => line.msg === "listening", 60_000);
  return { process, url: `http://127.0.0.1:${String(port)}` };
}

async function getJobStatus(url: string, jobSetId: string): Promise<{ code?: string; message?: string }> {
  const { stdout } = await run("curl", [
    "-s",
    "-H",
    "content-type: application/json",
    "-d",
    JSON.stringify({ queue: "q", jobSetId, jobId: "j" }),
    `${url}/jobservice.JobService/GetJobStatus`,
  ]);
  return JSON.parse(stdout) as { code?: string; message?: string };
}

async function readyz(url: string): Promise<{ checks: Record<string, { ok: boolean; error?: string }> }> {
  const { stdout } = await run("curl", ["-s", `${url}/readyz`]);
  return JSON.parse(stdout) as { checks: Record<string, { ok: boolean; error?: string }> };
}

describe("a Redis store that is down", () => {
  it("names a host that does not resolve on every call, on /readyz and once in the log", async () => {
    const { process, url } = await serve("redis://nope.invalid:1");
    const cause = 'cannot resolve host "nope.invalid"';
    await process.waitForLog((line) => line.msg === "redis store unreachable", 60_000);
    for (const jobSetId of ["a", "b", "a"]) {
      expect(await getJobStatus(url, jobSetId)).toEqual({ code: "unavailable", message: `store unavailable: Redis store at redis://nope.invalid:1: ${cause}` });
    }
    expect((await readyz(url)).checks.store).toEqual({ ok: false, error: `Redis store at redis://nope.invalid:1: ${cause}` });
    const said = process.logs.filter((line) => line.msg === "redis store unreachable");
    expect(said).toEqual([expect.objectContaining({ cause })]);
    expect(JSON.stringify(process.logs)).not.toContain("maxRetriesPerRequest");
  }, 120_000);

  it("names a refused connection, and says once that the store is back when it is", async () => {
    const port = await freePort();
    const { process, url } = await serve(`redis://127.0.0.1:${port}`);
    const cause = `connection refused at 127.0.0.1:${port}`;
    await process.waitForLog((line) => line.msg === "redis store unreachable" && line.cause === cause, 60_000);
    expect(await getJobStatus(url, "s")).toEqual({ code: "unavailable", message: `store unavailable: Redis store at redis://127.0.0.1:${port}: ${cause}` });
    expect((await readyz(url)).checks.store?.error).toBe(`Redis store at redis://127.0.0.1:${port}: ${cause}`);

    redisServers.push(await startRedisServer({ port }));
    await process.waitForLog((line) => line.msg === "redis store reachable again", 60_000);
    await eventually(
      () => readyz(url),
      (ready) => ready.checks.store?.ok === true,
      60_000,
    );
    expect(process.logs.filter((line) => line.msg === "redis store unreachable")).toHaveLength(1);
    expect(process.logs.filter((line) => line.msg === "redis store reachable again")).toHaveLength(1);
  }, 120_000);
});
