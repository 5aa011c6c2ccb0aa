import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIFECYCLE } from "../../src/simulator/index.js";
import { parseSimulateArgs, SIMULATE_FLAGS, simulateHelp } from "../../src/simulator/cli-options.js";
import { STEERING_KEYS } from "../../src/simulator/steering.js";
import { runJobservice } from "../support/process.js";
import { armadaClients, basicAuth, caseOf, eventually, readStream } from "../support/simulator.js";

const config = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const parsed = parseSimulateArgs(argv, env);
  if (parsed.help) throw new Error("unexpected help");
  return parsed.config;
};

describe("simulate flags", () => {
  it("defaults to Armada's port on loopback and the default lifecycle", () => {
    expect(config([])).toEqual({ host: "127.0.0.1", port: 50051, seed: 1, queues: [], lifecycle: DEFAULT_LIFECYCLE, queryLagMs: 0, logLevel: "info" });
  });

  it("reads the Query API's ingestion lag", () => {
    expect(config(["--query-lag-ms", "1500"]).queryLagMs).toBe(1500);
  });

  it("reads durations, probabilities, queues and bulk load", () => {
    const parsed = config([
      "--run-ms",
      "5..9",
      "--queued-ms",
      "3",
      "--failure-probability",
      "0.5",
      "--max-attempts",
      "2",
      "--queue",
      "a,b",
      "--queue",
      "c",
      "--bulk-job-sets",
      "3",
      "--bulk-jobs-per-set",
      "7",
      "--bulk-rate",
      "max",
    ]);
    expect(parsed.lifecycle).toMatchObject({ runMs: [5, 9], queuedMs: [3, 3], failureProbability: 0.5, maxAttempts: 2 });
    expect(parsed.queues).toEqual(["a", "b", "c"]);
    expect(parsed.bulk).toEqual({ jobSets: 3, jobsPerSet: 7, eventsPerSecond: Number.POSITIVE_INFINITY, queue: "bulk" });
  });

  it("falls back to the environment, flags winning", () => {
    const env = { ARMADA_SIM_PORT: "6000", ARMADA_SIM_QUEUES: "x, y", ARMADA_SIM_SEED: "9", ARMADA_SIM_BEARER: "tok" };
    expect(config([], env)).toMatchObject({ port: 6000, queues: ["x", "y"], seed: 9, credentials: [{ kind: "bearer", token: "tok" }] });
    expect(config(["--port", "7000"], env).port).toBe(7000);
  });

  it("builds credentials with per-queue limits", () => {
    expect(config(["--basic", "alice:pa:ss", "--bearer", "t0k", "--allow", "alice=q1,q2"]).credentials).toEqual([
      { kind: "basic", user: "alice", password: "pa:ss", queues: ["q1", "q2"] },
      { kind: "bearer", token: "t0k" },
    ]);
  });

  it.each([
    [["--port", "70000"], /^--port: /],
    [["--run-ms", "9..5"], /^--run-ms: .*MIN ≤ MAX/],
    [["--failure-probability", "2"], /^--failure-probability: /],
    [["--log-level", "loud"], /^--log-level: /],
    [["--basic", "nocolon"], /^--basic: expected USER:PASSWORD$/],
    [["--allow", "bob=q"], /^--allow: "bob" is neither/],
    [["--bulk-job-sets", "2", "--bulk-rate", "fast"], /^--bulk-rate: /],
    [["--frobnicate"], /frobnicate/],
    [["stray"], /stray/],
  ])("rejects %j with an error naming the flag", (argv, message) => {
    expect(() => parseSimulateArgs(argv, {})).toThrow(message);
  });

  it("documents every flag and steering key in --help", () => {
    expect(parseSimulateArgs(["--help"], {})).toEqual({ help: true });
    const help = simulateHelp();
    for (const { flag } of SIMULATE_FLAGS) expect(help).toContain(`--${flag}`);
    for (const key of Object.keys(STEERING_KEYS)) expect(help).toContain(key);
  });
});

describe("jobservice simulate", () => {
  it("serves until SIGTERM, then stops cleanly", async () => {
    const run = runJobservice([
      "simulate",
      "--port",
      "0",
      "--queue",
      "q",
      "--basic",
      "u:p",
      "--queued-ms",
      "1",
      "--pending-ms",
      "1",
      "--start-ms",
      "1",
      "--run-ms",
      "1",
      "--failure-probability",
      "0",
      "--preemption-probability",
      "0",
      "--lease-return-probability",
      "0",
    ]);
    try {
      const ready = await run.waitForLog((line) => line.msg === "Armada simulator listening");
      const clients = armadaClients(String(ready.url), basicAuth("u", "p"));
      await expect(armadaClients(String(ready.url)).submit.health({})).rejects.toMatchObject({ code: Code.Unauthenticated });
      const [item] = (await clients.submit.submitJobs({ queue: "q", jobSetId: "s", jobRequestItems: [{}] })).jobResponseItems;
      const { messages } = await readStream((signal) => clients.events.getJobSetEvents({ queue: "q", id: "s", watch: true }, { signal }), {
        count: 6,
        timeoutMs: 5000,
      });
      expect(messages.map(caseOf)).toEqual(["submitted", "queued", "leased", "pending", "running", "succeeded"]);
      expect(messages[0]?.message?.events.value?.jobId).toBe(item?.jobId);
    } finally {
      run.child.kill("SIGTERM");
    }
    expect(await run.exited).toBe(0);
    await eventually(() => run.logs.some((line) => line.msg === "stopped"));
  });

  it("exits 2 on a bad flag, naming it", async () => {
    const run = runJobservice(["simulate", "--seed", "x"]);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain("--seed:");
  });
});
