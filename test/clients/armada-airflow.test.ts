import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { ENV_TIMEOUT_MS, pythonEnv, ROOT, type PythonEnv } from "../support/python-env.js";
import { startFullTestService } from "../support/service.js";

const run = promisify(execFile);
const DAG_TIMEOUT_MS = 240_000;

/** Polls of api.Jobs/GetJobStatus the service answered, from its own metrics. */
async function statusPollsAnswered(serviceUrl: string): Promise<number> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith('jobservice_rpc_requests_total{method="GetJobStatus",code="ok"}'));
  return Number(line?.split(" ").at(-1) ?? 0);
}

/**
 * armada-airflow 1.1.3, Armada's own Airflow operator, unchanged, in Airflow
 * 3.2.2 (`airflow dags test`, a real task runner and metadata database), with
 * its one gRPC channel pointed at the service: the DAG of
 * examples/airflow-armada, as docs/query-api.md shows it.
 */
describe("today's Armada Airflow operator, pointed at the service", () => {
  let env: PythonEnv;
  let sim: Simulator;
  let service: { url: string; stop(): Promise<void> };
  let airflowHome: string;

  const airflowEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
    PATH: `${env.bin}:${process.env.PATH ?? ""}`,
    HOME: airflowHome,
    AIRFLOW_HOME: airflowHome,
    AIRFLOW__CORE__DAGS_FOLDER: join(ROOT, "examples/airflow-armada"),
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
    JOBSERVICE_TARGET: service.url.replace(/^http:\/\//, ""),
    ARMADA_QUEUE: "airflow",
    ...extra,
  });
  const runDag = async (extra: Record<string, string>): Promise<{ ok: boolean; log: string }> => {
    try {
      const { stdout, stderr } = await run(join(env.bin, "airflow"), ["dags", "test", "armada_via_jobservice"], { env: airflowEnv(extra), timeout: DAG_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
      return { ok: true, log: stdout + stderr };
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      return { ok: false, log: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
    }
  };

  beforeAll(async () => {
    env = await pythonEnv("armada-airflow-1");
    sim = await startSimulator({
      queues: ["airflow"],
      lifecycle: { queuedMs: [100, 200], pendingMs: [100, 200], startMs: [100, 200], runMs: [6000, 6000], failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 },
    });
    service = await startFullTestService(sim.url, ["--armada-passthrough", "true"]);
    airflowHome = mkdtempSync(join(tmpdir(), "airflow-"));
    await run(join(env.bin, "airflow"), ["db", "migrate"], { env: airflowEnv({}), timeout: ENV_TIMEOUT_MS });
  }, ENV_TIMEOUT_MS);
  afterAll(async () => {
    await service?.stop();
    await sim?.close();
    if (airflowHome) rmSync(airflowHome, { recursive: true, force: true });
  });

  it("runs a job to success: the submit passes through, and no status poll reaches Armada", async () => {
    const pollsBefore = await statusPollsAnswered(service.url);
    const { ok, log } = await runDag({});
    expect(log).toMatch(/terminated with state: SUCCEEDED/);
    expect(ok).toBe(true);
    const polls = (await statusPollsAnswered(service.url)) - pollsBefore;
    // A six-second job polled every second.
    expect(polls).toBeGreaterThanOrEqual(5);
    expect(sim.calls({ method: "api.Submit/SubmitJobs" })).toHaveLength(1);
    expect(sim.calls({ method: "api.Jobs/GetJobStatus" })).toHaveLength(0);
    console.log(`armada-airflow: ${polls} status polls answered by the service, ${sim.calls({ method: "api.Jobs/GetJobStatus" }).length} reached the simulator`);
  }, DAG_TIMEOUT_MS);

  it("fails the task with the job's own error", async () => {
    const { ok, log } = await runDag({ JOB_ANNOTATIONS: "armada-sim/exit-code=3,armada-sim/reason=model diverged,armada-sim/duration-ms=2000" });
    expect(ok).toBe(false);
    expect(log).toMatch(/FAILED/);
    expect(log).toMatch(/model diverged/);
    expect(sim.calls({ method: "api.Jobs/GetJobStatus" })).toHaveLength(0);
  }, DAG_TIMEOUT_MS);

  it("runs deferrable: the trigger polls the service too", async () => {
    const { ok, log } = await runDag({ DEFERRABLE: "true" });
    // The task really deferred, and its trigger ran (in line, under `airflow dags test`).
    expect(log).toMatch(/Pausing task as DEFERRED/);
    expect(log).toMatch(/running trigger in line/);
    expect(log).toMatch(/terminated with state: SUCCEEDED/);
    expect(ok).toBe(true);
    expect(sim.calls({ method: "api.Jobs/GetJobStatus" })).toHaveLength(0);
  }, DAG_TIMEOUT_MS);
});
