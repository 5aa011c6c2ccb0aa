import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { runJobservice, type RunningProcess } from "../support/process.js";
import { FAST_LIFECYCLE } from "../support/simulator.js";
import { eventually } from "../subscriber/harness.js";

const run = promisify(execFile);
const PASSWORD = "file-password-Hh73";
const WRONG = "wrong-file-password-Jj84";

/** Every form of a secret a leak could take. */
const forms = (secret: string): string[] => [
  secret,
  Buffer.from(`airflow:${secret}`).toString("base64").replace(/=+$/, ""),
  Buffer.from(secret).toString("base64").replace(/=+$/, ""),
];

describe("jobservice serve with armadactl's config file", () => {
  let sim: Simulator;
  let dir: string;
  let file: string;
  const started: RunningProcess[] = [];

  beforeAll(async () => {
    [sim, dir] = await Promise.all([startSimulator({ queues: ["q"], lifecycle: FAST_LIFECYCLE }), mkdtemp(join(tmpdir(), "armadactl-"))]);
    sim.faults.requireAuth([{ kind: "basic", user: "airflow", password: PASSWORD }]);
    file = join(dir, ".armadactl.yaml");
    const address = new URL(sim.url).host;
    await writeFile(
      file,
      `currentContext: sim\ncontexts:\n  sim:\n    armadaUrl: ${address}\n    forceNoTls: true\n    basicAuth:\n      username: airflow\n      password: ${PASSWORD}\n` +
        `  stale:\n    armadaUrl: ${address}\n    forceNoTls: true\n    basicAuth:\n      username: airflow\n      password: ${WRONG}\n`,
    );
  });
  afterAll(async () => {
    for (const { child } of started) if (child.exitCode === null) child.kill("SIGKILL");
    await sim?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const serve = (env: Record<string, string>): RunningProcess => {
    const process = runJobservice(["serve", "--port", "0", "--host", "127.0.0.1"], { JOBSERVICE_LOG_LEVEL: "trace", ARMADA_CONFIG: file, ...env });
    started.push(process);
    return process;
  };
  const status = async (port: number, jobSetId: string, jobId: string): Promise<{ state: string; error?: string }> => {
    const { stdout } = await run("curl", [
      "-s",
      "-H",
      "content-type: application/json",
      "-d",
      JSON.stringify({ queue: "q", jobSetId, jobId }),
      `http://127.0.0.1:${port}/jobservice.JobService/GetJobStatus`,
    ]);
    return JSON.parse(stdout) as { state: string; error?: string };
  };
  const everything = (p: RunningProcess): string => `${JSON.stringify(p.logs)}\n${p.stderr()}`;

  it("follows Armada with the current context's address and credentials, and an unknown context stops start-up", async () => {
    const good = serve({});
    const stale = serve({ ARMADA_CONTEXT: "stale" });
    const unknown = serve({ ARMADA_CONTEXT: "prod" });
    const port = async (p: RunningProcess): Promise<number> => Number((await p.waitForLog((line) => line.msg === "listening", 60_000)).port);
    const [goodPort, stalePort] = await Promise.all([port(good), port(stale)]);

    const [jobId = ""] = sim.submit("q", "from-file", [{ annotations: { "armada-sim/duration-ms": "60000" } }]);
    // Bounded by a generous deadline, not a count of polls: on a loaded machine the first answers can take seconds.
    const answer = await eventually(
      () => status(goodPort, "from-file", jobId),
      (a) => a.state === "RUNNING",
      60_000,
      100,
    );
    expect(answer.state).toBe("RUNNING");

    // Until the refused stream is known, the answer is "still reading the history"; then it names the refusal.
    const refused = await eventually(
      () => status(stalePort, "from-file", jobId),
      (a) => a.error?.includes("UNAUTHENTICATED") === true,
      60_000,
      100,
    );
    expect(refused).toMatchObject({ state: "CONNECTION_ERR", error: expect.stringMatching(/^Armada event stream failed: UNAUTHENTICATED: /) });

    expect(await unknown.exited).toBe(2);
    expect(unknown.stderr()).toContain(`ARMADA_CONTEXT (--armada-context): no context "prod" in ${file}; expected one of: sim, stale`);

    for (const secret of [...forms(PASSWORD), ...forms(WRONG)]) {
      for (const p of [good, stale, unknown]) expect(everything(p), `leaked ${secret}`).not.toContain(secret);
      expect(JSON.stringify(refused)).not.toContain(secret);
    }
    // Trace level was on: the check above read real log lines.
    expect(good.logs.some((line) => line.msg === "following Armada")).toBe(true);
  }, 180_000);
});
