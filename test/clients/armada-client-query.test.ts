import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { ENV_TIMEOUT_MS, pythonEnv, type PythonEnv } from "../support/python-env.js";
import { startFullTestService } from "../support/service.js";
import { eventually } from "../support/simulator.js";

const run = promisify(execFile);

/** Armada's own Python client (armada-client, as armada-airflow pins it): its four Query API calls, as JSON. */
const QUERY = `
import json, sys, grpc
from armada_client.client import ArmadaClient
from google.protobuf.json_format import MessageToDict
target, job_ids = sys.argv[1], sys.argv[2].split(",")
client = ArmadaClient(grpc.insecure_channel(target))
details = client.get_job_details(job_ids)
run_ids = [run.run_id for d in details.job_details.values() for run in d.job_runs if run.run_id]
print(json.dumps({
  "status": MessageToDict(client.get_job_status(job_ids)),
  "details": MessageToDict(details),
  "errors": MessageToDict(client.get_job_errors(job_ids)),
  "runs": MessageToDict(client.get_job_run_details(run_ids)) if run_ids else {},
}, sort_keys=True))
`;

describe("armada-client's Query API calls against the service and against Armada", () => {
  let env: PythonEnv;
  let sim: Simulator;
  let service: { url: string; stop(): Promise<void> };

  beforeAll(async () => {
    env = await pythonEnv("armada-airflow-1");
    sim = await startSimulator({
      queues: ["q"],
      seed: 7,
      lifecycle: { queuedMs: [1, 5], pendingMs: [1, 5], startMs: [1, 5], runMs: [5, 20], failureProbability: 0.3, preemptionProbability: 0.1, leaseReturnProbability: 0.2, retryProbability: 0.5, maxAttempts: 3 },
    });
    service = await startFullTestService(sim.url, ["--armada-passthrough", "true"]);
  }, ENV_TIMEOUT_MS);
  afterAll(async () => {
    await service?.stop();
    await sim?.close();
  });

  const query = async (target: string, ids: readonly string[]) =>
    JSON.parse((await run(env.python, ["-c", QUERY, target, ids.join(",")], { timeout: 60_000 })).stdout) as Record<string, unknown>;

  it("agree on states, errors, details and runs for a generated workload once the cache has caught up", async () => {
    const ids = [
      ...sim.submit("q", "workload-a", Array.from({ length: 20 }, () => ({}))),
      ...sim.submit("q", "workload-b", [{ annotations: { "armada-sim/cause": "Rejected" } }, { annotations: { "armada-sim/outcome": "preempted" } }, {}]),
    ];
    await eventually(() => sim.jobs().every((job) => job.done), 20_000);
    const viaSimulator = await query(`127.0.0.1:${sim.port}`, [...ids, "01NOSUCHJOB"]);
    const serviceTarget = service.url.replace(/^http:\/\//, "");
    // The first call reads the jobs through from Armada and starts following their job sets.
    await query(serviceTarget, ids);
    await expect.poll(async () => (await query(serviceTarget, [...ids, "01NOSUCHJOB"])).status, { timeout: 20_000 }).toEqual(viaSimulator.status);
    const viaService = await query(serviceTarget, [...ids, "01NOSUCHJOB"]);
    expect(viaService).toEqual(viaSimulator);
    const states = new Set(Object.values((viaSimulator.status as { jobStates: Record<string, string> }).jobStates));
    // The workload covers more than success.
    expect(states.size).toBeGreaterThanOrEqual(3);
    // Once followed, status polls stay local.
    const before = sim.calls({ method: "api.Jobs/GetJobStatus" }).length;
    await query(serviceTarget, ids);
    expect(sim.calls({ method: "api.Jobs/GetJobStatus" }).length).toBe(before);
  }, 120_000);

  it("reattach and cancel as the operator does them: by external job URI, then cancel_jobs through the passthrough", async () => {
    const uri = "airflow://dag/task/run-1/-1";
    const [id] = sim.submit("q", "reattach", [{ annotations: { "armadaproject.io/externalJobUri": uri, "armada-sim/duration-ms": "60000" } }]);
    await eventually(() => sim.events("q", "reattach").some((m) => m.message?.events.case === "running"), 10_000);
    const script = `
import json, sys, grpc
from armada_client.client import ArmadaClient
from google.protobuf.json_format import MessageToDict
client = ArmadaClient(grpc.insecure_channel(sys.argv[1]))
found = MessageToDict(client.get_job_status_by_external_job_uri("q", "reattach", sys.argv[2]))
cancelled = list(client.cancel_jobs(queue="q", job_set_id="reattach", job_id=sys.argv[3]).cancelled_ids)
print(json.dumps({"found": found, "cancelled": cancelled}))
`;
    const { stdout } = await run(env.python, ["-c", script, service.url.replace(/^http:\/\//, ""), uri, id!], { timeout: 60_000 });
    expect(JSON.parse(stdout)).toEqual({ found: { jobStates: { [id!]: "RUNNING" } }, cancelled: [id] });
    await eventually(() => sim.jobs().find((job) => job.jobId === id)?.done ?? false, 10_000);
    expect(sim.jobs().find((job) => job.jobId === id)?.outcome.state).toBe("cancelled");
  }, 120_000);
});
