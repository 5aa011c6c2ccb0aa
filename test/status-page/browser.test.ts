import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { FAST_LIFECYCLE } from "../subscriber/harness.js";
import { startFullTestService } from "../support/service.js";
import { armadaClients } from "../support/simulator.js";

/** Debian's chromium, as CI installs it (.ci/apt-packages). */
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Set to a file path to save a screenshot of the page as the test leaves it (docs/status-page.png). */
const SCREENSHOT = process.env.STATUS_PAGE_SCREENSHOT;
const QUEUE = "analytics";
const STEP_MS = 10_000;

let sim: Simulator;
let service: { url: string; stop(): Promise<void> };
let userDataDir: string;
let context: BrowserContext;
let page: Page;
/** Script errors and CSP violations the page reports: the page's own script must run under its own policy. */
const pageErrors: string[] = [];

beforeAll(async () => {
  sim = await startSimulator({ queues: [QUEUE], lifecycle: FAST_LIFECYCLE });
  service = await startFullTestService(sim.url, ["--status-page-interval-ms", "200", "--catch-up-wait-ms", "2000"]);
  userDataDir = await mkdtemp(join(tmpdir(), "status-page-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    timeout: STEP_MS,
    viewport: { width: 1280, height: 720 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP_MS);
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
});

afterAll(async () => {
  await context?.close();
  await service?.stop();
  await sim?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** What Airflow's operator sends: a Connect JSON POST. */
async function getJobStatus(queue: string, jobSetId: string, jobId: string): Promise<{ state?: string }> {
  const response = await fetch(`${service.url}/jobservice.JobService/GetJobStatus`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ queue, jobSetId, jobId }),
  });
  return (await response.json()) as { state?: string };
}

async function submit(jobSetId: string, durationMs: number): Promise<string> {
  const { submit } = armadaClients(sim.url);
  const response = await submit.submitJobs({
    queue: QUEUE,
    jobSetId,
    jobRequestItems: [{ priority: 1, namespace: "default", annotations: { "armada-sim/outcome": "succeeded", "armada-sim/duration-ms": String(durationMs) } }],
  });
  const jobId = response.jobResponseItems[0]?.jobId;
  if (!jobId) throw new Error("the simulator accepted no job");
  return jobId;
}

function row(jobSetId: string): string {
  return `#job-sets tr[data-job-set=${JSON.stringify(jobSetId)}]`;
}

describe("the status page in a browser", () => {
  it("shows a job set once the service is asked about it, and follows its cursor live, without a reload", async () => {
    await page.goto(`${service.url}/`);
    await expect.poll(() => page.textContent("#connection"), { timeout: STEP_MS }).toBe("live");
    await page.evaluate(() => Object.assign(globalThis, { loadedOnce: true }));

    const jobSetId = `nightly <etl> "run" ${Date.now()}`;
    const jobId = await submit(jobSetId, 200);
    expect(await getJobStatus(QUEUE, jobSetId, jobId)).not.toHaveProperty("state", "CONNECTION_ERR");

    await page.waitForSelector(row(jobSetId));
    expect(await page.textContent(`${row(jobSetId)} td.job-set`)).toBe(jobSetId);
    expect(await page.textContent(`${row(jobSetId)} td.role`)).toBe("owner");
    await expect.poll(() => page.textContent(`${row(jobSetId)} td.health`), { timeout: STEP_MS }).toBe("live");
    const before = await page.textContent(`${row(jobSetId)} td.cursor`);

    // More events for the same job set: the row's cursor moves on the open page.
    await submit(jobSetId, 200);
    await expect.poll(() => page.textContent(`${row(jobSetId)} td.cursor`), { timeout: STEP_MS }).not.toBe(before);
    expect(await page.textContent(`${row(jobSetId)} td.cursor`)).toMatch(/^\d+(:\d+){3}$/);

    // A job set of a queue Armada does not have: failing, with Armada's reason, in its row and in the recent errors.
    await getJobStatus("no-such-queue", "orphans", "j");
    await page.waitForSelector(row("orphans"));
    await expect.poll(() => page.textContent(`${row("orphans")} td.health`), { timeout: STEP_MS }).toBe("failing");
    expect(await page.textContent(`${row("orphans")} td.error`)).toContain("NOT_FOUND");
    expect(await page.textContent("#errors")).toContain("no-such-queue/orphans");

    expect(await page.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
  });

  it("filters on the server as the viewer types, without a reload", async () => {
    await page.fill('input[name="q"]', "ORPHAN");
    await expect.poll(() => page.locator("#job-sets tbody tr").count(), { timeout: STEP_MS }).toBe(1);
    expect(await page.getAttribute("#job-sets tbody tr", "data-job-set")).toBe("orphans");
    expect(new URL(page.url()).searchParams.get("q")).toBe("ORPHAN");
    await page.fill('input[name="q"]', "");
    await expect.poll(() => page.locator("#job-sets tbody tr").count(), { timeout: STEP_MS }).toBe(2);
    expect(await page.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it.runIf(SCREENSHOT)("saves a screenshot with a few more job sets", async () => {
    const more = ["hourly-ingest", "model-training-2024-06", "backfill-march"];
    await Promise.all(more.map(async (jobSetId) => getJobStatus(QUEUE, jobSetId, await submit(jobSetId, 30_000))));
    for (const jobSetId of more) await page.waitForSelector(row(jobSetId));
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
