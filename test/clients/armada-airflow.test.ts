import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { ENV_TIMEOUT_MS, pythonEnv, ROOT, type PythonEnv } from "../support/python-env.js";
import { startFullTestService } from "../support/service.js";

const run = promisify(execFile);
const DAG_TIMEOUT_MS = 240_000;
const SUBMIT = "api.Submit/SubmitJobs";
const STATUS = "api.Jobs/GetJobStatus";
const BY_URI = "api.Jobs/GetJobStatusUsingExternalJobUri";

/**
 * An Airflow cluster policy (airflow_local_settings.py in $AIRFLOW_HOME/config)
 * giving the task one retry a second after a failure, and a three-second
 * execution timeout, when TEST_RETRY_ONCE is set. The DAG stays as the docs show
 * it; [core] default_task_retries does not do: `dags test` serialises the DAG
 * without the configured defaults, so its task instance would get no retries.
 */
const RETRY_ONCE_POLICY = `import datetime
import os


def task_policy(task):
    if os.environ.get("TEST_RETRY_ONCE"):
        task.retries = 1
        task.retry_delay = datetime.timedelta(seconds=1)
        task.execution_timeout = datetime.timedelta(seconds=3)
`;

/** Polls of api.Jobs/GetJobStatus the service answered, from its own metrics. */
async function statusPollsAnswered(serviceUrl: string): Promise<number> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith('jobservice_rpc_requests_total{method="GetJobStatus",code="ok"}'));
  return Number(line?.split(" ").at(-1) ?? 0);
}

/** A gRPC channel's target (host:port), as armada-airflow's `channel_args` take it, from a server's URL. */
const channelTarget = (url: string): string => url.replace(/^http:\/\//, "");

/** Where two Airflows' `airflow dags test` differ. */
interface DagsTest {
  /** What it logs when the task defers. */
  readonly deferred: RegExp;
  /** Its options for the run whose first try times out and is retried. */
  readonly retryArgs: readonly string[];
}

/**
 * The two Airflow majors armada-airflow 1.1.3's pins allow (apache-airflow>=2.10,<3.3): the Airflow
 * version, its locked environment (the Airflow 3 one is also the armada-client tests'), and how its
 * `dags test` is run the way its user would:
 * - Airflow 2's `dag.test()` catches the deferral in its own loop, so the task's "Pausing task as
 *   DEFERRED" is never logged, only the loop's running of the trigger.
 * - Airflow 2's execution timeout (AirflowTaskTimeout) is a BaseException, which its in-process
 *   `dag.test()` does not catch: the first try's timeout ends `dags test` itself, and nothing is
 *   retried. With `--use-executor` each try runs as a deployment runs it (`airflow tasks run` by the
 *   executor), and the retry comes.
 */
const AIRFLOWS: readonly (readonly [airflow: string, envName: string, dagsTest: DagsTest])[] = [
  ["3.2.1", "armada-airflow-1", { deferred: /Pausing task as DEFERRED/, retryArgs: [] }],
  ["2.11.2", "armada-airflow-1-airflow-2", { deferred: /\[DAG TEST\] running trigger in line/, retryArgs: ["--use-executor"] }],
];

/**
 * armada-airflow 1.1.3, Armada's own Airflow operator, unchanged, in real
 * Airflow (`airflow dags test`, a real task runner and metadata database), with
 * its one gRPC channel pointed at the service: the DAG of
 * examples/airflow-armada, as docs/query-api.md shows it.
 */
describe.each(AIRFLOWS)("today's Armada Airflow operator in Airflow %s (test/envs/%s), against the service", (airflow, envName, { deferred, retryArgs }) => {
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
    JOBSERVICE_TARGET: channelTarget(service.url),
    ARMADA_QUEUE: "airflow",
    ...extra,
  });
  /**
   * One `airflow dags test` of the DAG; its output, then the task logs an executor wrote (under
   * `--use-executor` the tries run in their own processes and log to files, not to `dags test`).
   */
  const runDag = async (extra: Record<string, string>, options: readonly string[] = []): Promise<{ ok: boolean; log: string }> => {
    const logs = mkdtempSync(join(airflowHome, "logs-"));
    const taskLogs = (): string =>
      readdirSync(logs, { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".log"))
        .sort()
        .map((file) => readFileSync(join(logs, file), "utf8"))
        .join("");
    const runEnv = airflowEnv({ AIRFLOW__LOGGING__BASE_LOG_FOLDER: logs, ...extra });
    try {
      const args = ["dags", "test", "armada_via_jobservice", ...options];
      const { stdout, stderr } = await run(join(env.bin, "airflow"), args, { env: runEnv, timeout: DAG_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
      return { ok: true, log: stdout + stderr + taskLogs() };
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string };
      return { ok: false, log: `${failed.stdout ?? ""}${failed.stderr ?? ""}${taskLogs()}` };
    }
  };

  beforeAll(async () => {
    env = await pythonEnv(envName);
    sim = await startSimulator({
      queues: ["airflow"],
      lifecycle: { queuedMs: [100, 200], pendingMs: [100, 200], startMs: [100, 200], runMs: [6000, 6000], failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 },
    });
    service = await startFullTestService(sim.url, ["--armada-passthrough", "true"]);
    airflowHome = mkdtempSync(join(tmpdir(), "airflow-"));
    mkdirSync(join(airflowHome, "config"));
    writeFileSync(join(airflowHome, "config/airflow_local_settings.py"), RETRY_ONCE_POLICY);
    await run(join(env.bin, "airflow"), ["db", "migrate"], { env: airflowEnv({}), timeout: ENV_TIMEOUT_MS });
  }, ENV_TIMEOUT_MS);
  afterAll(async () => {
    await service?.stop();
    await sim?.close();
    if (airflowHome) rmSync(airflowHome, { recursive: true, force: true });
  });

  it(`is Airflow ${airflow} with armada-airflow 1.1.3`, async () => {
    const script = "import importlib.metadata as m; print(m.version('apache-airflow'), m.version('armada-airflow'))";
    const { stdout } = await run(env.python, ["-c", script], { env: airflowEnv({}) });
    expect(stdout.trim().split("\n").at(-1)).toBe(`${airflow} 1.1.3`);
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
    expect(log).toMatch(deferred);
    expect(log).toMatch(/running trigger in line/);
    expect(log).toMatch(/terminated with state: SUCCEEDED/);
    expect(ok).toBe(true);
    expect(sim.calls({ method: "api.Jobs/GetJobStatus" })).toHaveLength(0);
  }, DAG_TIMEOUT_MS);

  it("fails the task when the job is cancelled in Armada while the task waits", async () => {
    const submitsBefore = sim.calls({ method: SUBMIT }).length;
    // A minute-long job, so only the cancel below can end it in time.
    const dag = runDag({ JOB_ANNOTATIONS: "armada-sim/duration-ms=60000" });
    const submit = await waitFor(() => sim.calls({ method: SUBMIT })[submitsBefore], "the operator's submit");
    const pollsAtSubmit = await statusPollsAnswered(service.url);
    await waitFor(async () => (await statusPollsAnswered(service.url)) >= pollsAtSubmit + 2 || undefined, "the task's status polls");
    expect(sim.cancel("airflow", submit.jobSetId)).toHaveLength(1);
    const { ok, log } = await dag;
    expect(ok).toBe(false);
    expect(log).toMatch(/terminated with state: CANCELLED/);
    // The operator's ArmadaOperatorJobFailedError (a cancelled job has no termination reason).
    expect(log).toMatch(/ArmadaOperator job '[^']+' in queue 'airflow' terminated with state 'Cancelled'\./);
    expect(sim.calls({ method: SUBMIT })).toHaveLength(submitsBefore + 1);
    expect(sim.calls({ method: STATUS })).toHaveLength(0);
  }, DAG_TIMEOUT_MS);

  it("reattaches on retry through the external job URI, answered by the service, without submitting again", async () => {
    // The operator reattaches only on a real retry of the same task instance
    // (try_number past the first of max_tries); a second `dags test` of the same
    // run clears the task and raises max_tries, which the operator treats as a
    // manual re-run and submits anew. So: one `dags test`, one retry one second
    // after a failure, and a first try that fails while its job is alive. The
    // execution timeout does that (the job runs six seconds, the timeout is
    // three; see RETRY_ONCE_POLICY); Airflow then calls on_kill, which cancels
    // the job through the service, and the second try finds that job by its URI
    // and attaches to it. (On Airflow 2 the tries run through the executor: see AIRFLOWS.)
    const submitsBefore = sim.calls({ method: SUBMIT }).length;
    const statusPollsBefore = await statusPollsAnswered(service.url);
    const { ok, log } = await runDag({ REATTACH_POLICY: "always", TEST_RETRY_ONCE: "1" }, retryArgs);
    const submitted = [...log.matchAll(/Submitted job to Armada with job-id (\S+)\./g)].map((m) => m[1]);
    const attached = [...log.matchAll(/Attached to existing Armada job with job-id (\S+)\./g)].map((m) => m[1]);
    expect(submitted).toHaveLength(1);
    expect(attached).toEqual(submitted);
    expect(sim.calls({ method: SUBMIT })).toHaveLength(submitsBefore + 1);
    // The reattached job is the one on_kill cancelled; "always" makes that final.
    expect(log).toMatch(/terminated with state: CANCELLED/);
    expect(log).toMatch(/ArmadaOperatorJobFailedFatalError: ArmadaOperator job '[^']+' in queue 'airflow' terminated with state 'Cancelled'\./);
    expect(ok).toBe(false);
    expect(sim.calls({ method: BY_URI })).toHaveLength(0);
    expect(sim.calls({ method: STATUS })).toHaveLength(0);
    const polls = (await statusPollsAnswered(service.url)) - statusPollsBefore;
    console.log(`armada-airflow reattach: ${polls} status polls answered by the service; at the simulator: ${sim.calls({ method: BY_URI }).length} URI lookups, ${sim.calls({ method: STATUS }).length} status polls`);
  }, DAG_TIMEOUT_MS);

  // Last: it polls the simulator, which the specs above count at zero.
  it("without the service in front, every status poll reaches Armada", async () => {
    const pollsBefore = sim.calls({ method: STATUS }).length;
    const servicePollsBefore = await statusPollsAnswered(service.url);
    const { ok, log } = await runDag({ JOBSERVICE_TARGET: channelTarget(sim.url) });
    expect(log).toMatch(/terminated with state: SUCCEEDED/);
    expect(ok).toBe(true);
    const polls = sim.calls({ method: STATUS }).length - pollsBefore;
    // The same six-second job polled every second, as in the first spec.
    expect(polls).toBeGreaterThanOrEqual(5);
    expect(await statusPollsAnswered(service.url)).toBe(servicePollsBefore);
    console.log(`armada-airflow without the service: ${polls} status polls reached the simulator`);
  }, DAG_TIMEOUT_MS);
});

/** Polls `probe` until it yields a value; gives up after `timeoutMs`, naming what it waited for. */
async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
