import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { JobState, Jobs } from "../../src/gen/api/job_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { armadactlUser, finalCounts, jobFile } from "../support/armadactl.js";
import { ENV_TIMEOUT_MS, goModTool } from "../support/python-env.js";
import { startFullTestService } from "../support/service.js";
import { FAST_LIFECYCLE } from "../support/simulator.js";

type User = ReturnType<typeof armadactlUser>;

/** armadactl's contexts for one Armada address: right, wrong and no credentials. */
function contexts(address: string) {
  const at = { armadaUrl: address, forceNoTls: true };
  return {
    currentContext: "alice",
    contexts: {
      alice: { ...at, basicAuth: { username: "alice", password: "wonderland" } },
      intruder: { ...at, basicAuth: { username: "alice", password: "guessed" } },
      anonymous: at,
    },
  };
}

/** An output with the run's own names (job ids, the queue, addresses, Go pointers) replaced by placeholders, ids in order of appearance. */
function normalized(out: string, queue: string): string {
  const ids = new Map<string, string>();
  return out
    .replace(/\b[0-9A-Z]{26}\b/g, (id) => {
      if (!ids.has(id)) ids.set(id, `<id${ids.size}>`);
      return ids.get(id)!;
    })
    .replaceAll(queue, "<queue>")
    .replace(/127\.0\.0\.1:\d+/g, "<address>")
    .replace(/0x[0-9a-f]+/g, "<pointer>");
}

/** Each job's event kinds in the order `armadactl watch` printed them, jobs in order of submission. */
function eventsByJob(watchOutput: string, ids: readonly string[]): string[][] {
  const events = [...watchOutput.matchAll(/(\w+Event), job id: (\S+)/g)];
  return ids.map((id) => events.filter((match) => match[2] === id).map((match) => match[1]!));
}

/** What armadactl shows a user who creates a queue, submits, watches, cancels and is refused, names aside. */
async function session(user: User, queue: string) {
  const created = await user.armadactl("create", "queue", queue);
  const nightly = await user.armadactl(
    "submit",
    await write(user, "nightly.yaml", jobFile(queue, "nightly", [{ "armada-sim/outcome": "succeeded" }, { "armada-sim/exit-code": "2" }])),
  );
  const ids = [...nightly.out.matchAll(/Submitted job with id (\S+)/g)].map((match) => match[1]!);
  const watched = await user.armadactl("watch", queue, "nightly", "--exit-if-inactive");
  const [forever] = await user.submit("forever.yaml", jobFile(queue, "forever", [{ "armada-sim/duration-ms": "600000" }]));
  const cancelled = await user.armadactl("cancel", "job", queue, "forever", forever!);
  const afterCancel = await user.armadactl("watch", queue, "forever", "--exit-if-inactive");
  const intruder = await user.armadactl("--context", "intruder", "submit", await write(user, "intruder.yaml", jobFile(queue, "intruder", [{}])));
  const anonymous = await user.armadactl("--context", "anonymous", "cancel", "job-set", queue, "nightly");
  return {
    created: { code: created.code, out: normalized(created.out, queue) },
    submitted: { code: nightly.code, out: normalized(nightly.out, queue) },
    watched: { code: watched.code, events: eventsByJob(watched.out, ids), counts: finalCounts(watched.out) },
    cancelled: { code: cancelled.code, out: normalized(cancelled.out, queue), counts: finalCounts(afterCancel.out) },
    intruder: { code: intruder.code, out: normalized(intruder.out, queue) },
    anonymous: { code: anonymous.code, out: normalized(anonymous.out, queue) },
  };
}

async function write(user: User, name: string, text: string): Promise<string> {
  writeFileSync(join(user.home, name), text);
  return name;
}

describe("armadactl through the service's passthrough, against a simulator that requires basic auth", () => {
  let binary: string;
  let sim: Simulator;
  let service: { url: string; stop(): Promise<void> };
  let direct: User;
  let through: User;

  beforeAll(async () => {
    binary = await goModTool("armadactl");
    sim = await startSimulator({ lifecycle: FAST_LIFECYCLE, credentials: [{ kind: "basic", user: "alice", password: "wonderland" }] });
    direct = armadactlUser(binary, contexts(`127.0.0.1:${sim.port}`));
    // The service follows Armada with alice's own context; the passthrough forwards each caller's credentials.
    service = await startFullTestService(undefined, ["--armada-config", direct.configFile, "--armada-context", "alice", "--armada-passthrough", "true"]);
    through = armadactlUser(binary, contexts(new URL(service.url).host));
  }, ENV_TIMEOUT_MS);
  afterAll(async () => {
    direct?.cleanUp();
    through?.cleanUp();
    await service?.stop();
    await sim?.close();
  });

  it("creates a queue, submits, watches, cancels and is refused exactly as against the simulator directly", async () => {
    const viaSimulator = await session(direct, "direct");
    const viaService = await session(through, "through");
    expect(viaSimulator.created).toEqual({ code: 0, out: "Created queue <queue>\n" });
    expect(viaSimulator.watched.events.map((events) => events.at(-1))).toEqual(["JobSucceededEvent", "JobFailedEvent"]);
    expect(viaSimulator.watched.counts).toMatchObject({ Succeeded: 1, Failed: 1 });
    expect(viaSimulator.cancelled.counts).toMatchObject({ Cancelled: 1 });
    expect(viaSimulator.intruder.code).not.toBe(0);
    expect(viaSimulator.intruder.out).toContain("code = Unauthenticated");
    expect(viaSimulator.anonymous.out).toContain("code = Unauthenticated");
    expect(viaService).toEqual(viaSimulator);
    // Everything armadactl did through the service reached the simulator with armadactl's own credentials.
    const passedThrough = sim.calls().filter((call) => call.queue === "through" && call.method.startsWith("api.Submit/"));
    expect(passedThrough.length).toBeGreaterThanOrEqual(5);
  }, 180_000);

  it("learns from armadactl's gzip-compressed submit: its external job URI is answered from the cache", async () => {
    const uri = "airflow://nightly/2026-12-07/extract";
    const [id] = await through.submit(
      "reattach.yaml",
      jobFile("through", "reattach", [{ "armadaproject.io/externalJobUri": uri, "armada-sim/outcome": "succeeded" }]),
    );
    const jobs = createClient(Jobs, createGrpcTransport({ baseUrl: service.url }));
    const request = { queue: "through", jobset: "reattach", externalJobUri: uri };
    await expect.poll(async () => (await jobs.getJobStatusUsingExternalJobUri(request)).jobStates[id!], { timeout: 15_000 }).toBe(JobState.SUCCEEDED);
    expect(sim.calls({ method: "api.Jobs/GetJobStatusUsingExternalJobUri" })).toHaveLength(0);
  }, 60_000);

  it("works with the ~/.armadactl.yaml docs/query-api.md shows, its address pointed at the service", async () => {
    const doc = readFileSync(new URL("../../docs/query-api.md", import.meta.url), "utf8");
    const config = parse(/```yaml\n# ~\/\.armadactl\.yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? "") as { contexts: { main: { armadaUrl: string } } };
    config.contexts.main.armadaUrl = new URL(service.url).host;
    const docsUser = armadactlUser(binary, config);
    try {
      const [id] = await docsUser.submit("docs.yaml", jobFile("through", "docs", [{ "armada-sim/outcome": "succeeded" }]));
      expect(sim.jobs().find((job) => job.jobId === id)?.queue).toBe("through");
    } finally {
      docsUser.cleanUp();
    }
  }, 60_000);
});
