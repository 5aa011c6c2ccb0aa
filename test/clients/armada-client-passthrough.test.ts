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
});
