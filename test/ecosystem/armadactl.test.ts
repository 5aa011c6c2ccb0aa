import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { startSimulator, type Credential, type Simulator } from "../../src/simulator/index.js";
import { armadactlUser, finalCounts, jobFile } from "../support/armadactl.js";
import { ENV_TIMEOUT_MS, goModTool, ROOT } from "../support/python-env.js";
import { startFullTestService } from "../support/service.js";
import { FAST_LIFECYCLE } from "../support/simulator.js";

const TOKEN_HELPER = join(ROOT, "test/support/token-helper.mjs");

let binary: string;
beforeAll(async () => {
  binary = await goModTool("armadactl");
}, ENV_TIMEOUT_MS);

describe("armadactl v0.20.10 against the simulator", () => {
  let sim: Simulator;
  let user: ReturnType<typeof armadactlUser>;
  beforeAll(async () => {
    sim = await startSimulator({ lifecycle: FAST_LIFECYCLE });
    user = armadactlUser(binary, { currentContext: "main", contexts: { main: { armadaUrl: `127.0.0.1:${sim.port}`, forceNoTls: true } } });
  });
  afterAll(async () => {
    user?.cleanUp();
    await sim?.close();
  });

  it("creates a queue (through api.Submit/CreateQueue, as this version of armadactl does)", async () => {
    expect(await user.armadactl("create", "queue", "team-a")).toMatchObject({ code: 0, out: "Created queue team-a\n" });
    expect(sim.calls({ method: "api.Submit/CreateQueue" }).map((call) => [call.queue, call.result])).toEqual([["team-a", "ok"]]);
  });

  it("submits a YAML job file and watches the job set until its jobs end", async () => {
    const ids = await user.submit("nightly.yaml", jobFile("team-a", "nightly", [{ "armada-sim/outcome": "succeeded" }, { "armada-sim/exit-code": "2" }]));
    expect(ids).toHaveLength(2);
    const watch = await user.armadactl("watch", "team-a", "nightly", "--exit-if-inactive");
    expect(watch.code, watch.out).toBe(0);
    expect(watch.out).toContain(`JobSucceededEvent, job id: ${ids[0]}`);
    expect(watch.out).toContain(`JobFailedEvent, job id: ${ids[1]}`);
    expect(finalCounts(watch.out)).toMatchObject({ Queued: 0, Running: 0, Succeeded: 1, Failed: 1, Cancelled: 0 });
  });

  it("cancels one job, then a whole job set", async () => {
    const forever = { "armada-sim/duration-ms": "600000" };
    const [one] = await user.submit("one.yaml", jobFile("team-a", "one", [forever]));
    expect(await user.armadactl("cancel", "job", "team-a", "one", one!)).toMatchObject({
      code: 0,
      out: expect.stringContaining(`Requested cancellation for jobs ${one}`),
    });
    expect(finalCounts((await user.armadactl("watch", "team-a", "one", "--exit-if-inactive")).out)).toMatchObject({ Cancelled: 1 });

    await user.submit("all.yaml", jobFile("team-a", "all", [forever, forever]));
    expect(await user.armadactl("cancel", "job-set", "team-a", "all")).toMatchObject({
      code: 0,
      out: expect.stringContaining("Requested cancellation for job set all"),
    });
    // --exit-if-inactive may stop between the two cancellations; sim.jobs() has the last word.
    await user.armadactl("watch", "team-a", "all", "--exit-if-inactive");
    const all = sim.jobs().filter((job) => job.jobSetId === "all");
    expect(all.map((job) => job.outcome.state)).toEqual(["cancelled", "cancelled"]);
  });

  it("gets UNIMPLEMENTED for what the simulator does not serve (get queue)", async () => {
    const result = await user.armadactl("get", "queue", "team-a");
    expect(result.code).not.toBe(0);
    expect(result.out).toContain("code = Unimplemented desc = method /api.Submit/GetQueue is not implemented");
  });
});

describe("one ~/.armadactl.yaml, with basicAuth and execAuth contexts, for armadactl and the service alike", () => {
  const credentials: Credential[] = [
    { kind: "basic", user: "alice", password: "wonderland" },
    { kind: "bearer", token: "token-from-exec" },
  ];
  let sim: Simulator;
  let user: ReturnType<typeof armadactlUser>;
  beforeAll(async () => {
    sim = await startSimulator({ lifecycle: FAST_LIFECYCLE, queues: ["secure"], credentials });
    const armadaUrl = `127.0.0.1:${sim.port}`;
    user = armadactlUser(binary, {
      currentContext: "basic",
      contexts: {
        basic: { armadaUrl, forceNoTls: true, basicAuth: { username: "alice", password: "wonderland" } },
        exec: { armadaUrl, forceNoTls: true, execAuth: { cmd: process.execPath, args: [TOKEN_HELPER, "token", "token-from-exec"] } },
        anonymous: { armadaUrl, forceNoTls: true },
      },
    });
  });
  afterAll(async () => {
    user?.cleanUp();
    await sim?.close();
  });

  it("is refused without credentials", async () => {
    writeFileSync(join(user.home, "none.yaml"), jobFile("secure", "none", [{}]));
    const refused = await user.armadactl("--context", "anonymous", "submit", "none.yaml");
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain("code = Unauthenticated");
  });

  it.each([
    { context: "basic", authorization: `basic ${Buffer.from("alice:wonderland").toString("base64")}` },
    { context: "exec", authorization: "Bearer token-from-exec" },
  ])("$context: armadactl submits and watches, and the service follows the job to SUCCEEDED with the same context", async ({ context, authorization }) => {
    const jobSetId = `via-${context}`;
    const [jobId] = await user.submit(
      `${jobSetId}.yaml`,
      jobFile("secure", jobSetId, [{ "armada-sim/outcome": "succeeded", "armada-sim/duration-ms": "300" }]),
      "--context",
      context,
    );
    const watch = await user.armadactl("--context", context, "watch", "secure", jobSetId, "--exit-if-inactive");
    expect(finalCounts(watch.out), watch.out).toMatchObject({ Succeeded: 1 });

    const service = await startFullTestService(undefined, ["--armada-config", user.configFile, "--armada-context", context]);
    try {
      const jobs = createClient(JobService, createGrpcTransport({ baseUrl: service.url }));
      const request = { queue: "secure", jobSetId, jobId: jobId! };
      const deadline = Date.now() + 15_000;
      let state = (await jobs.getJobStatus(request)).state;
      while (state !== State.SUCCEEDED && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = (await jobs.getJobStatus(request)).state;
      }
      expect(State[state]).toBe("SUCCEEDED");
    } finally {
      await service.stop();
    }
    // Both armadactl and the service sent the context's credentials to every call for this job set.
    const calls = sim.calls().filter((call) => call.jobSetId === jobSetId);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(new Set(calls.map((call) => call.authorization))).toEqual(new Set([authorization]));
  });
});
