import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { ENV_TIMEOUT_MS, pythonEnv, type PythonEnv } from "../support/python-env.js";
import { startFullTestService } from "../support/service.js";
import { eventually } from "../support/simulator.js";

const run = promisify(execFile);

/**
 * Armada's own Python client on grpcio (an independent HTTP/2 and gRPC
 * implementation): a job set's watched events, and errors, through the
 * service's passthrough and straight from Armada.
 */
const CLIENT = `
import json, sys, grpc
from armada_client.client import ArmadaClient
from armada_client.armada import event_pb2
target, queue, job_set, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = ArmadaClient(grpc.insecure_channel(target))
out = {"events": [], "error": None}
try:
    stream = client.event_stub.GetJobSetEvents(event_pb2.JobSetRequest(id=job_set, queue=queue, watch=True, errorIfMissing=True), timeout=10)
    for message in stream:
        out["events"].append([message.id, message.message.WhichOneof("events")])
        if len(out["events"]) >= count:
            stream.cancel()
            break
except grpc.RpcError as error:
    out["error"] = [error.code().name, error.details()]
print(json.dumps(out))
`;

/**
 * Today's operator reattaching: submit one job with an external job URI
 * through the service, then ask for it by that URI until it has ended.
 */
const REATTACH = `
import json, sys, time, grpc
from armada_client.client import ArmadaClient
from armada_client.armada import submit_pb2
from armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1
from armada_client.k8s.io.apimachinery.pkg.api.resource import generated_pb2 as api_resource
target, queue, job_set, uri = sys.argv[1:5]
client = ArmadaClient(grpc.insecure_channel(target))
resources = {"cpu": api_resource.Quantity(string="100m"), "memory": api_resource.Quantity(string="64Mi")}
pod = core_v1.PodSpec(restartPolicy="Never", containers=[core_v1.Container(name="main", image="busybox:1.36", args=["true"], resources=core_v1.ResourceRequirements(requests=resources, limits=resources))])
item = client.create_job_request_item(priority=1, namespace="default", pod_spec=pod, annotations={"armadaproject.io/externalJobUri": uri, "armada-sim/duration-ms": "300"})
job_id = client.submit_jobs(queue, job_set, [item]).job_response_items[0].job_id
polls, states = 0, []
deadline = time.time() + 30
while time.time() < deadline:
    answer = client.get_job_status_by_external_job_uri(queue, job_set, uri)
    polls += 1
    state = submit_pb2.JobState.Name(answer.job_states[job_id]) if job_id in answer.job_states else None
    if not states or states[-1] != state:
        states.append(state)
    if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
        break
    time.sleep(0.02)
print(json.dumps({"jobId": job_id, "polls": polls, "states": states}))
`;

describe("armada-client (grpcio) through the passthrough", () => {
  let env: PythonEnv;
  let sim: Simulator;
  let service: { url: string; stop(): Promise<void> };

  beforeAll(async () => {
    env = await pythonEnv("armada-airflow-1");
    sim = await startSimulator({ queues: ["q"], lifecycle: { queuedMs: [1, 3], pendingMs: [1, 3], startMs: [1, 3], runMs: [2, 6], failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 } });
    service = await startFullTestService(sim.url, ["--armada-passthrough", "true"]);
  }, ENV_TIMEOUT_MS);
  afterAll(async () => {
    await service?.stop();
    await sim?.close();
  });

  const watch = async (target: string, queue: string, jobSet: string, count: number) =>
    JSON.parse((await run(env.python, ["-c", CLIENT, target, queue, jobSet, String(count)], { timeout: 60_000 })).stdout) as { events: [string, string][]; error: [string, string] | null };

  it("watches a job set's events exactly as Armada sends them, and sees Armada's own errors", async () => {
    const ids = sim.submit("q", "watched", [{}, {}]);
    await eventually(() => sim.jobs().filter((job) => ids.includes(job.jobId)).every((job) => job.done), 10_000);
    const serviceTarget = service.url.replace(/^http:\/\//, "");
    const direct = await watch(`127.0.0.1:${sim.port}`, "q", "watched", 12);
    const through = await watch(serviceTarget, "q", "watched", 12);
    expect(direct.events).toHaveLength(12);
    expect(through).toEqual(direct);
    const missingDirect = await watch(`127.0.0.1:${sim.port}`, "nope", "s", 1);
    const missingThrough = await watch(serviceTarget, "nope", "s", 1);
    expect(missingDirect.error?.[0]).toBe("NOT_FOUND");
    expect(missingThrough).toEqual(missingDirect);
  }, 120_000);

  it("answers get_job_status_by_external_job_uri for a submit it passed through from the cache, without asking Armada", async () => {
    const serviceTarget = service.url.replace(/^http:\/\//, "");
    const { stdout } = await run(env.python, ["-c", REATTACH, serviceTarget, "q", "reattach", "airflow://dag/run/task"], { timeout: 60_000 });
    const result = JSON.parse(stdout) as { jobId: string; polls: number; states: (string | null)[] };
    console.log(`external job URI: ${result.polls} polls through the service, states ${result.states.join(" -> ")}`);
    expect(result.states.at(-1)).toBe("SUCCEEDED");
    expect(result.states).not.toContain(null);
    expect(sim.calls({ method: "api.Submit/SubmitJobs" }).filter((call) => call.jobSetId === "reattach")).toHaveLength(1);
    expect(sim.calls({ method: "api.Jobs/GetJobStatusUsingExternalJobUri" })).toHaveLength(0);
  }, 120_000);
});
