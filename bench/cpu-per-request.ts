// `node --import tsx bench/cpu-per-request.ts [subjects] [grpc|json] [requests] [rounds]`: the CPU time each
// read-path server process spends per GetJobStatus (user + system, all threads, from /proc), a fixed number of
// requests at a time. Closed-loop throughput on 2 shared cores also measures the load generator; CPU per
// request does not, so this is the figure to compare when the throughput ratios move with the machine.
// Subjects: raw, empty, memory, redis, auth (as in the read-path suite). `BENCH_CPU_PROF_DIR` profiles them.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processScript, startChild, type BenchChild } from "./lib/child.js";
import { connectJsonBody, GET_JOB_STATUS_PATH, grpcRequestBody } from "./lib/grpc-frame.js";
import { median } from "./lib/stats.js";
import type { SimulatorReady } from "./processes/protocol.js";
import type { ServiceProcessOptions } from "./processes/service.js";
import { startRedisServer } from "../test/support/redis-server.js";

const SUBJECTS = ["raw", "empty", "memory", "redis", "auth"] as const;
type SubjectName = (typeof SUBJECTS)[number];
const WARM_UP_REQUESTS = 10_000;
const CLOCK_TICKS_PER_SECOND = 100;
const AUTHORIZATION = `basic ${Buffer.from("airflow:bench-password").toString("base64")}`;

const [subjectsArg = SUBJECTS.join(","), protocol = "grpc", requestsArg = "60000", roundsArg = "3"] = process.argv.slice(2);
const names = subjectsArg.split(",").filter((name): name is SubjectName => (SUBJECTS as readonly string[]).includes(name));
const requests = Number(requestsArg);
const rounds = Number(roundsArg);
if (protocol !== "grpc" && protocol !== "json") throw new Error(`protocol must be grpc or json, got ${protocol}`);

/** User + system CPU of a process in microseconds (clock ticks from /proc/<pid>/stat). */
function cpuMicros(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] ?? "").split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

const redis = await startRedisServer();
const simulator = await startChild<SimulatorReady>(processScript("simulator"), { readJobs: 1_000 });
const key = { ...simulator.ready.readSet, jobId: simulator.ready.terminalJobId };
const dir = mkdtempSync(join(tmpdir(), "jobservice-cpu-"));
const bodyFile = join(dir, "body");
writeFileSync(bodyFile, protocol === "grpc" ? grpcRequestBody(key) : connectJsonBody(key));
const service = (options: ServiceProcessOptions): Promise<BenchChild<{ port: number }>> => startChild(processScript("service"), options, [], "node");
const armadaUrl = simulator.ready.url;
const launch: Record<SubjectName, () => Promise<BenchChild<{ port: number }>>> = {
  raw: () => startChild(processScript("raw-listener"), {}, [], "node"),
  empty: () => service({ answer: "empty", store: { kind: "memory" }, armadaUrl }),
  memory: () => service({ answer: "subscriber", store: { kind: "memory" }, armadaUrl }),
  redis: () => service({ answer: "subscriber", store: { kind: "redis", url: redis.url }, armadaUrl }),
  auth: () => service({ answer: "subscriber", store: { kind: "memory" }, armadaUrl, auth: "armada" }),
};
const started = new Map<SubjectName, BenchChild<{ port: number }>>();
try {
  for (const name of names) started.set(name, await launch[name]());
  const load = (name: SubjectName, count: number): void => {
    const url = `http://127.0.0.1:${started.get(name)?.ready.port}${GET_JOB_STATUS_PATH}`;
    const auth = name === "auth";
    if (protocol === "grpc") {
      const headers = ["content-type: application/grpc", "te: trailers", ...(auth ? [`authorization: ${AUTHORIZATION}`] : [])];
      execFileSync("h2load", ["-t", "1", "-c", "8", "-m", "8", "-n", String(count), "-d", bodyFile, ...headers.flatMap((h) => ["-H", h]), url], {
        stdio: "pipe",
      });
    } else {
      const headers = ["content-type=application/json", ...(auth ? [`authorization=${AUTHORIZATION}`] : [])];
      execFileSync("npx", ["autocannon", "-c", "64", "-a", String(count), "-m", "POST", "-i", bodyFile, ...headers.flatMap((h) => ["-H", h]), url], {
        stdio: "pipe",
      });
    }
  };
  for (const name of names) load(name, WARM_UP_REQUESTS);
  const perRequest = new Map<SubjectName, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const pid = started.get(name)?.pid ?? 0;
      const before = cpuMicros(pid);
      load(name, requests);
      perRequest.set(name, [...(perRequest.get(name) ?? []), (cpuMicros(pid) - before) / requests]);
    }
  }
  const raw = perRequest.get("raw");
  for (const [name, values] of perRequest) {
    const share = raw === undefined || name === "raw" ? "" : `  (raw constant ÷ this: ${((100 * median(raw)) / median(values)).toFixed(0)} %)`;
    process.stdout.write(`${protocol} ${name.padEnd(7)} ${median(values).toFixed(1).padStart(6)} µs CPU per request, median of ${values.length}${share}\n`);
  }
} finally {
  for (const child of started.values()) await child.stop();
  await simulator.stop();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
