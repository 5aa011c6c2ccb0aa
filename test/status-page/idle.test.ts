/**
 * A job set nobody asked about for the subscription expiry is no longer
 * followed, but its data stays in the store and still answers polls: the
 * status page keeps listing it, marked idle, until the store lets it go.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { runJobservice, type RunningProcess } from "../support/process.js";
import { FAST_LIFECYCLE } from "../support/simulator.js";
import { eventually } from "../subscriber/harness.js";

let sim: Simulator;
let service: RunningProcess;
let url: string;

beforeAll(async () => {
  sim = await startSimulator({ queues: ["q"], lifecycle: FAST_LIFECYCLE });
  service = runJobservice([
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--armada-url",
    sim.url,
    // Expiry after 1 s without a question; the store forgets 4 s after the last activity.
    "--subscription-expiry-seconds",
    "1",
    "--job-ttl-seconds",
    "4",
  ]);
  const { port } = await service.waitForLog((line) => line.msg === "listening", 60_000);
  url = `http://127.0.0.1:${String(port)}`;
}, 90_000);
afterAll(async () => {
  if (service.child.exitCode === null) service.child.kill("SIGKILL");
  await sim?.close();
});

/** The row's role and health cells, or undefined when the page does not list the job set. */
async function row(jobSetId: string): Promise<{ role: string; health: string } | undefined> {
  const html = await (await fetch(`${url}/?q=${encodeURIComponent(jobSetId)}`)).text();
  const match = new RegExp(`<tr data-queue="q" data-job-set="${jobSetId}">(.*?)</tr>`, "s").exec(html);
  if (!match) return undefined;
  const cell = (name: string): string => new RegExp(`<td class="${name}[^"]*">([^<]*)</td>`).exec(match[1] ?? "")?.[1] ?? "";
  return { role: cell("role"), health: cell("health") };
}

async function getJobStatus(jobSetId: string, jobId: string): Promise<{ state?: string }> {
  const response = await fetch(`${url}/jobservice.JobService/GetJobStatus`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ queue: "q", jobSetId, jobId }),
  });
  return (await response.json()) as { state?: string };
}

describe("the status page after a subscription expires", () => {
  it("lists the job set as idle while the store holds it, then not at all", async () => {
    const jobSetId = `idle-${Date.now()}`;
    const [jobId = ""] = sim.submit("q", jobSetId, [{ annotations: { "armada-sim/outcome": "succeeded", "armada-sim/duration-ms": "10" } }]);
    await eventually(
      () => getJobStatus(jobSetId, jobId),
      (answer) => answer.state === "SUCCEEDED",
      60_000,
      100,
    );
    expect((await row(jobSetId))?.role).toBe("owner");

    const idle = await eventually(
      () => row(jobSetId),
      (r) => r?.role === "idle",
      60_000,
      100,
    );
    expect(idle).toEqual({ role: "idle", health: "idle" });
    // Still answered from the store, as the page says; asking follows it again.
    expect(await getJobStatus(jobSetId, jobId)).toEqual({ state: "SUCCEEDED" });
    await eventually(
      () => row(jobSetId),
      (r) => r?.role === "owner" || r?.role === "follower",
      60_000,
      100,
    );

    // Left alone: idle again, then gone with the store's data.
    await eventually(
      () => row(jobSetId),
      (r) => r?.role === "idle",
      60_000,
      100,
    );
    await eventually(
      () => row(jobSetId),
      (r) => r === undefined,
      60_000,
      200,
    );
  }, 120_000);
});
