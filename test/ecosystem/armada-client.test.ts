import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { ENV_TIMEOUT_MS, pythonEnv, ROOT, type PythonEnv } from "../support/python-env.js";
import { FAST_LIFECYCLE } from "../support/simulator.js";

const run = promisify(execFile);
const USER_SCRIPT = join(ROOT, "test/ecosystem/armada_client_user.py");
const SERVING = 1;

interface SeenEvent {
  readonly id: string;
  readonly type: string;
  readonly job_id: string;
}

/** What test/ecosystem/armada_client_user.py reports. */
interface Report {
  readonly submit_health: number;
  readonly event_health: number;
  readonly create_queue: string;
  readonly create_queue_again: string;
  readonly submitted: string[];
  readonly cancel_jobs: string[];
  readonly outcomes: SeenEvent[];
  readonly whole_submitted: string[];
  readonly whole: SeenEvent[];
  readonly submit_unknown_queue: string;
  readonly get_queue: string;
}

/** The last event each job reached, by job id. */
function endings(events: readonly SeenEvent[]): Record<string, string> {
  return Object.fromEntries(events.map((event) => [event.job_id, event.type]));
}

describe.each([
  { env: "armada-client-0.5", version: "0.5.1", queueService: "api.QueueService/CreateQueue", getQueue: "api.QueueService/GetQueue" },
  { env: "armada-client-0.3", version: "0.3.4", queueService: "api.Submit/CreateQueue", getQueue: "api.Submit/GetQueue" },
])("armada-client $version from PyPI against the simulator", ({ env, queueService }) => {
  let python: PythonEnv;
  let sim: Simulator;
  let report: Report;
  const queue = `team-${env.replaceAll(".", "-")}`;

  beforeAll(async () => {
    python = await pythonEnv(env);
    sim = await startSimulator({ lifecycle: FAST_LIFECYCLE });
    const { stdout } = await run(python.python, [USER_SCRIPT, `127.0.0.1:${sim.port}`, queue], { timeout: 120_000 });
    report = JSON.parse(stdout) as Report;
  }, ENV_TIMEOUT_MS);
  afterAll(() => sim?.close());

  it("finds both services healthy (submit_health, event_health)", () => {
    expect(report.submit_health).toBe(SERVING);
    expect(report.event_health).toBe(SERVING);
  });

  it(`creates the queue through ${queueService}, and a second create is ALREADY_EXISTS`, () => {
    expect(report.create_queue).toBe("OK");
    expect(report.create_queue_again).toBe("ALREADY_EXISTS");
    expect(sim.calls({ method: queueService }).map((call) => call.result)).toEqual(["ok", "already_exists"]);
  });

  it("submits pod-spec jobs whose annotations steer them, and reads each to its end with unmarshal_event_response", () => {
    const [succeeds, fails, cancelled] = report.submitted;
    expect(report.cancel_jobs).toEqual([cancelled]);
    expect(endings(report.outcomes)).toEqual({ [succeeds!]: "succeeded", [fails!]: "failed", [cancelled!]: "cancelled" });
    // The client saw every event the simulator logged for the job set, in order.
    expect(report.outcomes.map((event) => event.id)).toEqual(sim.events(queue, "outcomes").map((message) => message.id));
    expect(report.outcomes.filter((event) => event.job_id === succeeds).map((event) => event.type)).toEqual([
      "submitted",
      "queued",
      "leased",
      "pending",
      "running",
      "succeeded",
    ]);
    const failed = sim.jobs().find((job) => job.jobId === fails);
    expect(failed?.outcome).toMatchObject({ state: "failed", reason: "exit status 3" });
  });

  it("follows the job set's stream with watch and errorIfMissing, as the client's resilient stream asks", () => {
    const streams = sim.calls({ method: "api.Event/GetJobSetEvents" });
    expect(streams.map((call) => ({ jobSetId: call.jobSetId, watch: call.watch, errorIfMissing: call.errorIfMissing }))).toEqual([
      { jobSetId: "outcomes", watch: true, errorIfMissing: true },
      { jobSetId: "whole", watch: true, errorIfMissing: true },
    ]);
  });

  it("cancels a whole job set with cancel_jobset", () => {
    expect(report.whole_submitted).toHaveLength(2);
    expect(endings(report.whole)).toEqual(Object.fromEntries(report.whole_submitted.map((id) => [id, "cancelled"])));
    expect(sim.calls({ method: "api.Submit/CancelJobSet" }).map((call) => call.jobSetId)).toEqual(["whole"]);
  });

  it("gets Armada's codes for what it cannot do: NOT_FOUND for an unknown queue, UNIMPLEMENTED for what the simulator does not serve", () => {
    expect(report.submit_unknown_queue).toBe("NOT_FOUND");
    expect(report.get_queue).toBe("UNIMPLEMENTED");
  });
});
