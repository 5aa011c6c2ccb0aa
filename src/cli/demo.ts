import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { loadServeConfig } from "../config/load.js";
import { Submit } from "../gen/api/submit_pb.js";
import { startSimulator } from "../simulator/index.js";
import { startJobService, type JobServiceProcess } from "./job-service.js";
import { describeListenFailure } from "./listen-failure.js";

const HELP = `Usage: jobservice demo [flags]

Starts the Armada simulator and the Job Service (memory store) in this process,
submits a handful of jobs with mixed outcomes through Armada's Submit API, and
polls GetJobStatus over Connect JSON, as Airflow does, showing every job's state
live until all are finished.

  --port N       Job Service port while the demo runs (default 0: a free one, printed at the start)
  --timeout-s N  Give up after N seconds (default 120)
  --help, -h     Show this text.
`;

interface DemoJob {
  readonly name: string;
  readonly annotations: Record<string, string>;
}

// Each job asks the simulator for its fate through annotations (docs/simulator.md).
const JOBS: readonly DemoJob[] = [
  { name: "quick success", annotations: { "armada-sim/outcome": "succeeded", "armada-sim/duration-ms": "1000" } },
  { name: "slow success", annotations: { "armada-sim/outcome": "succeeded", "armada-sim/duration-ms": "6000" } },
  { name: "out of memory", annotations: { "armada-sim/exit-code": "137", "armada-sim/cause": "OOM", "armada-sim/duration-ms": "3000" } },
  { name: "exit code 1", annotations: { "armada-sim/exit-code": "1", "armada-sim/reason": "ValueError: bad input", "armada-sim/duration-ms": "2000" } },
  { name: "cancelled", annotations: { "armada-sim/outcome": "cancelled", "armada-sim/duration-ms": "2500" } },
  { name: "rejected", annotations: { "armada-sim/cause": "Rejected", "armada-sim/reason": "requests more GPUs than any node has" } },
];

const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "DUPLICATE_FOUND"]);

interface Row {
  readonly name: string;
  readonly jobId: string;
  state: string;
  error: string;
}

/** `jobservice demo`: the first minute a new user spends with the project. */
export async function demoCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { port: { type: "string", default: "0" }, "timeout-s": { type: "string", default: "120" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const timeoutMs = Number(values["timeout-s"]) * 1000;
  const quiet = pino({ level: "silent" });
  const queue = "demo";
  const armada = await startSimulator({ port: 0, queues: [queue] });
  const config = loadServeConfig({}, ["--host", "127.0.0.1", "--port", values.port, "--armada-url", armada.url, "--log-level", "silent"]);
  let service: JobServiceProcess;
  try {
    service = await startJobService(config, quiet);
  } catch (error) {
    await armada.close();
    const reason = describeListenFailure(error, { host: config.host, port: config.port, portSetting: "--port" });
    if (reason === undefined) throw error;
    process.stderr.write(`jobservice demo: ${reason}\n`);
    return 1;
  }
  const baseUrl = `http://127.0.0.1:${service.port}`;
  const jobSetId = `demo-${new Date().toISOString()}`;
  try {
    const submit = createClient(Submit, createGrpcTransport({ baseUrl: armada.url }));
    const response = await submit.submitJobs({
      queue,
      jobSetId,
      jobRequestItems: JOBS.map((job) => ({ priority: 1, namespace: "default", annotations: job.annotations })),
    });
    const rows: Row[] = response.jobResponseItems.map((item, index) => ({ name: JOBS[index]?.name ?? "", jobId: item.jobId, state: "…", error: "" }));
    process.stdout.write(`Armada simulator: ${armada.url}\nJob Service:      ${baseUrl}  (queue "${queue}", job set "${jobSetId}")\n\n`);

    const render = createRenderer(process.stdout.isTTY === true);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await Promise.all(rows.map(async (row) => Object.assign(row, await getJobStatus(baseUrl, queue, jobSetId, row.jobId))));
      render(rows);
      if (rows.every((row) => FINAL.has(row.state))) {
        process.stdout.write("\nAll jobs finished.\n");
        return 0;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    process.stdout.write(`\nGave up after ${values["timeout-s"]} s with jobs still running.\n`);
    return 1;
  } finally {
    await service.stop();
    await armada.close();
  }
}

/** Exactly what Airflow's operator sends: a Connect JSON POST over HTTP/1.1. */
async function getJobStatus(baseUrl: string, queue: string, jobSetId: string, jobId: string): Promise<{ state: string; error: string }> {
  const response = await fetch(`${baseUrl}/jobservice.JobService/GetJobStatus`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ queue, jobSetId, jobId }),
  });
  const body = (await response.json()) as { state?: string; error?: string; message?: string };
  if (!response.ok) return { state: "ERROR", error: body.message ?? String(response.status) };
  // SUBMITTED is the enum's zero value, which proto3 JSON leaves out.
  return { state: body.state ?? "SUBMITTED", error: body.error ?? "" };
}

/** Redraws the table in place on a terminal; elsewhere prints it only when something changed. */
function createRenderer(inPlace: boolean): (rows: readonly Row[]) => void {
  let drawn = 0;
  let last = "";
  return (rows) => {
    const lines = [
      `${"JOB".padEnd(15)}${"JOB ID".padEnd(28)}${"STATE".padEnd(18)}ERROR`,
      ...rows.map((row) => `${row.name.padEnd(15)}${row.jobId.padEnd(28)}${row.state.padEnd(18)}${row.error}`),
    ];
    const text = lines.join("\n");
    if (text === last) return;
    last = text;
    if (inPlace && drawn > 0) process.stdout.write(`\x1b[${drawn}A`);
    process.stdout.write(lines.map((line) => (inPlace ? `\x1b[2K${line}` : line)).join("\n") + "\n");
    if (!inPlace) process.stdout.write("\n");
    drawn = lines.length;
  };
}
