import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "../../test/support/free-port.js";
import { alternate } from "../lib/alternate.js";
import { residentMemory } from "../lib/child.js";
import type { BenchContext } from "../lib/context.js";
import { connectJsonBody, GET_JOB_STATUS_PATH } from "../lib/grpc-frame.js";
import { fixed, type Row, type SuiteOutcome } from "../lib/report.js";
import { runTool } from "../lib/run-tool.js";
import { median, pairedRatio } from "../lib/stats.js";
import type { BulkSummary, ExpectedJob } from "../processes/protocol.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const START_TIMEOUT_MS = 30_000;
const POLL_MS = 2;
// The floor: a bare Node process that answers HTTP as soon as it listens.
const BARE_SERVER = `require("node:http").createServer((q, s) => s.end("{}")).listen(Number(process.env.JOBSERVICE_PORT), "127.0.0.1")`;

interface Launch {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Only the service's answer is checked; the bare server answers anything. */
  readonly checksAnswer: boolean;
}

/** Process start to the first answered GetJobStatus, against a bare Node server's start. */
export async function startupSuite(context: BenchContext): Promise<SuiteOutcome> {
  const { simulator, scale } = context;
  const summary = await simulator.call<BulkSummary>("bulk", { queue: "startup", prefix: "startup-", jobSets: 1, jobsPerSet: 1, wait: true, sample: 1 });
  const job = summary.sample[0];
  if (!job) throw new Error("the simulator returned no job for the start-up probe");
  const notes: string[] = [];
  const buildDir = mkdtempSync(join(tmpdir(), "jobservice-bench-build-"));
  try {
    const launches: Launch[] = [
      { name: "bare node", command: process.execPath, args: ["-e", BARE_SERVER], checksAnswer: false },
      { name: "node bin/jobservice.js (tsx, sources)", command: process.execPath, args: [join(ROOT, "bin/jobservice.js"), "serve"], checksAnswer: true },
    ];
    const bundle = await buildBundle(buildDir);
    if (typeof bundle === "string") launches.push({ name: "node, esbuild bundle", command: process.execPath, args: [bundle, "serve"], checksAnswer: true });
    else notes.push(`Start-up of the bundled build not measured: ${bundle.reason}`);
    const binary = join(ROOT, "dist/jobservice");
    if (isExecutable(binary)) launches.push({ name: "single binary (dist/jobservice, Bun)", command: binary, args: ["serve"], checksAnswer: true });
    else notes.push("Start-up of the single binary not measured: no executable at dist/jobservice in this checkout.");

    context.log(`start-up: ${launches.map((l) => l.name).join(", ")}; ${scale.startupRounds} alternating rounds`);
    const memory = new Map<string, number[]>(launches.map((launch) => [launch.name, []]));
    const results = await alternate(
      scale.startupRounds,
      launches.map((launch) => ({
        name: launch.name,
        run: () => timeToFirstAnswer(launch, simulator.ready.url, job, (rssMiB) => memory.get(launch.name)?.push(rssMiB)),
      })),
      (name, ms) => context.log(`  ${name}: ${fixed(ms)} ms`),
    );
    const bare = results.get("bare node") ?? [];
    const bareRss = memory.get("bare node") ?? [];
    const rows: Row[] = launches.slice(1).flatMap((launch) => {
      const runs = results.get(launch.name) ?? [];
      const rss = memory.get(launch.name) ?? [];
      return [
        {
          measure: "Start-up: process start → first answered GetJobStatus",
          subject: launch.name,
          baseline: "bare node HTTP server",
          ratio: pairedRatio(runs, bare),
          absolute: `${fixed(median(runs))} / ${fixed(median(bare))} ms`,
        },
        {
          measure: "Resident memory right after the first answer",
          subject: launch.name,
          baseline: "bare node HTTP server",
          ratio: pairedRatio(rss, bareRss),
          absolute: `${fixed(median(rss))} / ${fixed(median(bareRss))} MiB`,
        },
      ];
    });
    return { name: "start-up", data: { ...Object.fromEntries(results), residentMiB: Object.fromEntries(memory) }, rows, targets: [], notes };
  } finally {
    rmSync(buildDir, { recursive: true, force: true });
  }
}

/** Builds the bundle with the project's own `npm run build` command line, into a scratch directory. */
async function buildBundle(dir: string): Promise<string | { reason: string }> {
  const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts?: Record<string, string> }).scripts ?? {};
  const build = scripts.build;
  const outfile = build ? /--outfile=(\S+)/.exec(build)?.[1] : undefined;
  if (!build || !outfile) return { reason: "package.json has no `build` script with --outfile" };
  const target = join(dir, outfile.split("/").at(-1) as string);
  const command = build.replace(`--outfile=${outfile}`, `--outfile=${target}`).replace(/^esbuild /, `${join(ROOT, "node_modules/.bin/esbuild")} `);
  const output = await runTool("sh", ["-c", command], 120_000);
  if (output.code !== 0) return { reason: `the build failed: ${output.stderr.trim()}` };
  return target;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function timeToFirstAnswer(launch: Launch, armadaUrl: string, job: ExpectedJob, onMemory: (rssMiB: number) => void): Promise<number> {
  const port = await freePort();
  const env = {
    ...process.env,
    JOBSERVICE_HOST: "127.0.0.1",
    JOBSERVICE_PORT: String(port),
    JOBSERVICE_STORE: "memory",
    ARMADA_URL: armadaUrl,
    JOBSERVICE_LOG_LEVEL: "silent",
  };
  const started = performance.now();
  const child = spawn(launch.command, launch.args, { env, cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    while (performance.now() - started < START_TIMEOUT_MS) {
      if (child.exitCode !== null) throw new Error(`${launch.name} exited with ${child.exitCode}: ${stderr.trim()}`);
      if (await answers(port, job, launch.checksAnswer)) {
        const elapsed = performance.now() - started;
        onMemory(residentMemory(child.pid as number).rssMiB);
        return elapsed;
      }
      await sleep(POLL_MS);
    }
    throw new Error(`${launch.name} did not answer within ${START_TIMEOUT_MS} ms: ${stderr.trim()}`);
  } finally {
    child.kill("SIGTERM");
    const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(force);
  }
}

async function answers(port: number, job: ExpectedJob, checkAnswer: boolean): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${GET_JOB_STATUS_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: connectJsonBody(job),
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await response.json()) as { state?: string };
    return response.ok && (!checkAnswer || body.state === job.state.toUpperCase());
  } catch {
    return false;
  }
}
