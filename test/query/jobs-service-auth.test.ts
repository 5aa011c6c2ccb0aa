import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobState, Jobs } from "../../src/gen/api/job_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { startFullTestService } from "../support/service.js";
import { basicAuth, eventually, FAST_LIFECYCLE } from "../support/simulator.js";

describe("api.Jobs under the service's caller security (basic mode)", () => {
  const dir = mkdtempSync(join(tmpdir(), "jobservice-query-auth-"));
  let sim: Simulator;
  let service: { url: string; stop(): Promise<void> };
  const jobsAs = (user: string, password: string) =>
    createClient(
      Jobs,
      createGrpcTransport({ baseUrl: service.url, interceptors: [(next) => (req) => (req.header.set("authorization", basicAuth(user, password)), next(req))] }),
    );

  beforeAll(async () => {
    writeFileSync(join(dir, "users"), `alice:${bcrypt.hashSync("alice-secret", 4)}\n`);
    writeFileSync(join(dir, "permissions.yaml"), "users:\n  alice: [team-a]\n");
    sim = await startSimulator({
      queues: ["team-a", "team-b"],
      lifecycle: { ...FAST_LIFECYCLE, failureProbability: 0, preemptionProbability: 0, leaseReturnProbability: 0 },
    });
    service = await startFullTestService(sim.url, ["--auth", "basic", "--users-file", join(dir, "users"), "--permissions-file", join(dir, "permissions.yaml")]);
  });
  afterAll(async () => {
    await service?.stop();
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers a caller about jobs of the queues it may watch, and refuses the others without following them", async () => {
    const [mine] = sim.submit("team-a", "s", [{}]);
    const [theirs] = sim.submit("team-b", "s", [{}]);
    await eventually(() => sim.jobs().every((job) => job.done), 10_000);
    const alice = jobsAs("alice", "alice-secret");
    expect((await alice.getJobStatus({ jobIds: [mine!] })).jobStates).toEqual({ [mine!]: JobState.SUCCEEDED });
    await expect(alice.getJobStatus({ jobIds: [theirs!] })).rejects.toMatchObject({ code: Code.PermissionDenied });
    await expect(alice.getJobErrors({ jobIds: [mine!, theirs!] })).rejects.toMatchObject({ code: Code.PermissionDenied });
    await expect(alice.getJobStatusUsingExternalJobUri({ queue: "team-b", jobset: "s", externalJobUri: "x" })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    expect(sim.calls({ method: "api.Event/GetJobSetEvents" }).filter((call) => call.queue === "team-b")).toHaveLength(0);
  });

  it("refuses a caller without credentials before asking anything", async () => {
    const before = sim.calls().length;
    const anonymous = createClient(Jobs, createGrpcTransport({ baseUrl: service.url }));
    await expect(anonymous.getJobStatus({ jobIds: ["01ANY"] })).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(sim.calls().length).toBe(before);
    const rest = await fetch(`${service.url}/v1/job/status`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jobIds: ["01ANY"] }),
    });
    expect(rest.status).toBe(401);
    expect(sim.calls().length).toBe(before);
  });

  it("checks REST callers like RPC callers", async () => {
    const [theirs] = sim.submit("team-b", "rest", [{}]);
    const post = (authorization: string) =>
      fetch(`${service.url}/v1/job/status`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify({ jobIds: [theirs] }),
      });
    await eventually(() => sim.events("team-b", "rest").length > 0);
    expect((await post(basicAuth("alice", "alice-secret"))).status).toBe(403);
  });
});
