import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { startSimulator, type Credential, type Simulator } from "../../src/simulator/index.js";
import { ENV_TIMEOUT_MS, goModTool, ROOT } from "../support/python-env.js";
import { startFullTestService } from "../support/service.js";
import { FAST_LIFECYCLE } from "../support/simulator.js";

const run = promisify(execFile);
const TOKEN_HELPER = join(ROOT, "test/support/token-helper.mjs");

interface Result {
  readonly code: number;
  readonly out: string;
}

/** A job file as armadactl's `submit` reads it: one pod-spec job per steering block. */
function jobFile(queue: string, jobSetId: string, steering: ReadonlyArray<Record<string, string>>): string {
  const resources = { limits: { cpu: "100m", memory: "64Mi" }, requests: { cpu: "100m", memory: "64Mi" } };
  const jobs = steering.map((annotations) => ({
    priority: 0,
    namespace: "default",
    annotations,
    podSpec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1.36", args: ["sh", "-c", "echo hello"], resources }] },
  }));
  return stringify({ queue, jobSetId, jobs });
}

/** A temporary HOME with ~/.armadactl.yaml, and armadactl run in it as a user would run it. */
function armadactlUser(binary: string, config: object) {
  const home = mkdtempSync(join(tmpdir(), "armadactl-home-"));
  const configFile = join(home, ".armadactl.yaml");
  writeFileSync(configFile, stringify(config));
  const armadactl = async (...args: string[]): Promise<Result> => {
    try {
      const { stdout, stderr } = await run(binary, args, { cwd: home, env: { ...process.env, HOME: home }, timeout: 60_000 });
      return { code: 0, out: stdout + stderr };
    } catch (error) {
      const { code, stdout = "", stderr = "" } = error as { code?: number; stdout?: string; stderr?: string };
      return { code: code ?? -1, out: stdout + stderr };
    }
  };
  const submit = async (name: string, text: string, ...flags: string[]): Promise<string[]> => {
    writeFileSync(join(home, name), text);
    const result = await armadactl(...flags, "submit", name);
    expect(result, result.out).toMatchObject({ code: 0 });
    return [...result.out.matchAll(/Submitted job with id (\S+)/g)].map((match) => match[1]!);
  };
  return { home, configFile, armadactl, submit, cleanUp: () => rmSync(home, { recursive: true, force: true }) };
}

/** The last status line `armadactl watch` printed: its counts of jobs by state. */
function finalCounts(watchOutput: string): Record<string, number> {
  const lines = watchOutput
    .trim()
    .split("\n")
    .filter((line) => line.includes("Queued:"));
  const counts = (lines.at(-1) ?? "").split("|")[1] ?? "";
  return Object.fromEntries([...counts.matchAll(/(\w+):\s+(\d+)/g)].map((match) => [match[1]!, Number(match[2])]));
}

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
