import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import type { JobStore } from "../../src/store/store.js";
import type { ArmadaCredentials } from "../../src/subscriber/options.js";
import { startTokenEndpoint, type TokenEndpoint } from "../support/token-endpoint.js";
import { eventually, startStoreFixture, startSubscriber, testOptions, uniqueJobSet, type StoreFixture, type TestSubscriber, FAST_LIFECYCLE, LONG_RUN, streamCalls } from "./harness.js";

const QUEUE = "secured";
const PASSWORD = "hunter2-very-secret";
const CLIENT_SECRET = "oidc-client-secret";

describe("authenticating to Armada", () => {
  let sim: Simulator;
  let fixture: StoreFixture;
  let store: JobStore;
  let endpoint: TokenEndpoint;
  let dir: string;
  const running: TestSubscriber[] = [];

  beforeAll(async () => {
    [sim, fixture, endpoint, dir] = await Promise.all([
      startSimulator({ queues: [QUEUE], lifecycle: FAST_LIFECYCLE }),
      startStoreFixture("memory"),
      startTokenEndpoint({ clientId: "jobservice", clientSecret: CLIENT_SECRET, expiresInSeconds: 1, tokenPrefix: "oidc" }),
      mkdtemp(join(tmpdir(), "armada-token-")),
    ]);
    store = fixture.open();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.close()));
    sim.faults.disableAuth();
  });
  afterAll(async () => {
    await sim?.close();
    await fixture?.stop();
    await endpoint?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function subscriberWith(credentials: ArmadaCredentials, overrides = {}): TestSubscriber {
    const service = startSubscriber(store, testOptions(sim.url, { credentials, ...overrides }));
    running.push(service);
    return service;
  }

  /** A running job in a fresh job set, submitted before auth is switched on. */
  function runningJob() {
    const jobSetId = uniqueJobSet("auth");
    const [jobId] = sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    return { queue: QUEUE, jobSetId, jobId: jobId! };
  }

  it("basic credentials are accepted; wrong ones answer UNAUTHENTICATED without revealing the password", async () => {
    const key = runningJob();
    sim.faults.requireAuth([{ kind: "basic", user: "airflow", password: PASSWORD }]);
    const good = subscriberWith({ kind: "basic", username: "airflow", password: PASSWORD });
    expect((await eventually(() => good.status(key), (a) => a.state === State.RUNNING)).state).toBe(State.RUNNING);

    const other = runningJob();
    const bad = subscriberWith({ kind: "basic", username: "airflow", password: `${PASSWORD}-wrong` });
    const answer = await bad.status(other);
    expect(answer.state).toBe(State.CONNECTION_ERR);
    expect(answer.error).toMatch(/^Armada event stream failed: UNAUTHENTICATED: /);
    expect(answer.error).not.toContain(PASSWORD);
    expect(bad.logs()).toContain("UNAUTHENTICATED");
    expect(bad.logs()).not.toContain(PASSWORD);
    expect(bad.logs()).not.toContain(Buffer.from(`airflow:${PASSWORD}-wrong`).toString("base64"));
  });

  it("a queue the identity may not watch answers PERMISSION_DENIED", async () => {
    const key = runningJob();
    sim.faults.requireAuth([{ kind: "bearer", token: "limited", queues: ["elsewhere"] }]);
    const service = subscriberWith({ kind: "bearer", token: "limited" });
    const answer = await service.status(key);
    expect(answer.state).toBe(State.CONNECTION_ERR);
    expect(answer.error).toMatch(/^Armada event stream failed: PERMISSION_DENIED: .*watch.*"secured"/);
  });

  it("a bearer token is sent as is", async () => {
    const key = runningJob();
    sim.faults.requireAuth([{ kind: "bearer", token: "static-token" }]);
    const service = subscriberWith({ kind: "bearer", token: "static-token" });
    expect((await eventually(() => service.status(key), (a) => a.state === State.RUNNING)).state).toBe(State.RUNNING);
    const calls = streamCalls(sim, key.jobSetId);
    expect(calls.every((c) => c.authorization === "Bearer static-token")).toBe(true);
  });

  it("a token file is re-read after rotation: the next stream carries the new token", async () => {
    const key = runningJob();
    const path = join(dir, "token");
    await writeFile(path, "token-one\n");
    sim.faults.requireAuth([{ kind: "bearer", token: "token-one" }]);
    const service = subscriberWith({ kind: "token-file", path });
    await eventually(() => service.status(key), (a) => a.state === State.RUNNING);

    await writeFile(join(dir, "token.new"), "token-two\n");
    await rename(join(dir, "token.new"), path);
    sim.faults.requireAuth([{ kind: "bearer", token: "token-two" }]);
    sim.faults.dropStreams(Code.Unavailable, "rotating");
    sim.cancel(QUEUE, key.jobSetId, [key.jobId]);
    expect((await eventually(() => service.status(key), (a) => a.state === State.CANCELLED)).state).toBe(State.CANCELLED);
    const tokens = streamCalls(sim, key.jobSetId).map((c) => c.authorization);
    expect(tokens[0]).toBe("Bearer token-one");
    expect(tokens.at(-1)).toBe("Bearer token-two");
  });

  it("OIDC client credentials: the token is fetched, cached and refreshed before it expires", async () => {
    const key = runningJob();
    sim.faults.requireAuth(Array.from({ length: 50 }, (_, i) => ({ kind: "bearer", token: endpoint.tokenNumber(i + 1) }) as const));
    const service = subscriberWith({ kind: "oidc", tokenUrl: endpoint.url, clientId: "jobservice", clientSecret: CLIENT_SECRET, scopes: ["armada"] });
    expect((await eventually(() => service.status(key), (a) => a.state === State.RUNNING)).state).toBe(State.RUNNING);
    const issuedAfterFirst = endpoint.requests().length;
    expect(await service.subscriber.armadaHealthy(AbortSignal.timeout(2_000))).toBe(true);
    expect(endpoint.requests().length).toBe(issuedAfterFirst);

    // Tokens live 1 s and are refreshed from 0.75 s on.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await service.subscriber.armadaHealthy(AbortSignal.timeout(2_000))).toBe(true);
    expect(endpoint.requests().length).toBe(issuedAfterFirst + 1);
    const health = sim.calls({ method: "Health" }).map((c) => c.authorization);
    expect(new Set(health.slice(-2)).size).toBe(2);
    expect(service.logs()).not.toContain(CLIENT_SECRET);
  });
});
