import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import type { JobStore } from "../../src/store/store.js";
import type { ArmadaCredentials } from "../../src/subscriber/options.js";
import { fileURLToPath } from "node:url";
import { armadaStyleKubernetesAuth, serviceAccountToken, TEST_CLUSTER_CA } from "../support/service-account.js";
import { startTokenEndpoint, type TokenEndpoint } from "../support/token-endpoint.js";
import {
  eventually,
  startStoreFixture,
  startSubscriber,
  testOptions,
  uniqueJobSet,
  type StoreFixture,
  type TestSubscriber,
  FAST_LIFECYCLE,
  LONG_RUN,
  streamCalls,
} from "./harness.js";

const QUEUE = "secured";
const PASSWORD = "hunter2-very-secret";
const CLIENT_SECRET = "oidc-client-secret";
const OIDC_PASSWORD = "oidc-user-password";
const HELPER = fileURLToPath(new URL("../support/token-helper.mjs", import.meta.url));

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
      startTokenEndpoint({
        clientId: "jobservice",
        clientSecret: CLIENT_SECRET,
        expiresInSeconds: 1,
        tokenPrefix: "oidc",
        users: { airflow: OIDC_PASSWORD },
        refreshTokens: true,
      }),
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
    expect(
      (
        await eventually(
          () => good.status(key),
          (a) => a.state === State.RUNNING,
        )
      ).state,
    ).toBe(State.RUNNING);

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
    expect(
      (
        await eventually(
          () => service.status(key),
          (a) => a.state === State.RUNNING,
        )
      ).state,
    ).toBe(State.RUNNING);
    const calls = streamCalls(sim, key.jobSetId);
    expect(calls.every((c) => c.authorization === "Bearer static-token")).toBe(true);
  });

  it("a token file is re-read after rotation: the next stream carries the new token", async () => {
    const key = runningJob();
    const path = join(dir, "token");
    await writeFile(path, "token-one\n");
    sim.faults.requireAuth([{ kind: "bearer", token: "token-one" }]);
    const service = subscriberWith({ kind: "token-file", path });
    await eventually(
      () => service.status(key),
      (a) => a.state === State.RUNNING,
    );

    await writeFile(join(dir, "token.new"), "token-two\n");
    await rename(join(dir, "token.new"), path);
    sim.faults.requireAuth([{ kind: "bearer", token: "token-two" }]);
    sim.faults.dropStreams(Code.Unavailable, "rotating");
    sim.cancel(QUEUE, key.jobSetId, [key.jobId]);
    expect(
      (
        await eventually(
          () => service.status(key),
          (a) => a.state === State.CANCELLED,
        )
      ).state,
    ).toBe(State.CANCELLED);
    const tokens = streamCalls(sim, key.jobSetId).map((c) => c.authorization);
    expect(tokens[0]).toBe("Bearer token-one");
    expect(tokens.at(-1)).toBe("Bearer token-two");
  });

  it("OIDC client credentials: the token is fetched, cached and refreshed before it expires", async () => {
    const key = runningJob();
    sim.faults.requireAuth(Array.from({ length: 50 }, (_, i) => ({ kind: "bearer", token: endpoint.tokenNumber(i + 1) }) as const));
    const service = subscriberWith({ kind: "oidc", tokenUrl: endpoint.url, clientId: "jobservice", clientSecret: CLIENT_SECRET, scopes: ["armada"] });
    expect(
      (
        await eventually(
          () => service.status(key),
          (a) => a.state === State.RUNNING,
        )
      ).state,
    ).toBe(State.RUNNING);
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

  it("OIDC password grant: found from the issuer, renewed with the refresh token, a wrong password is a clear CONNECTION_ERR", async () => {
    const key = runningJob();
    sim.faults.requireAuth(Array.from({ length: 50 }, (_, i) => ({ kind: "bearer", token: endpoint.tokenNumber(i + 1) }) as const));
    const credentials = {
      kind: "oidc-password",
      providerUrl: endpoint.issuer,
      clientId: "jobservice",
      clientSecret: CLIENT_SECRET,
      username: "airflow",
      scopes: ["openid"],
    } as const;
    const service = subscriberWith({ ...credentials, password: OIDC_PASSWORD });
    expect(
      (
        await eventually(
          () => service.status(key),
          (a) => a.state === State.RUNNING,
        )
      ).state,
    ).toBe(State.RUNNING);
    expect(endpoint.requests().at(-1)?.grantType).toBe("password");
    // 1 s tokens, renewed from 0.75 s on: the next call to Armada carries a refreshed one.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await service.subscriber.armadaHealthy(AbortSignal.timeout(2_000))).toBe(true);
    expect(endpoint.requests().at(-1)?.grantType).toBe("refresh_token");

    const wrong = subscriberWith({ ...credentials, password: "not-the-password" });
    const answer = await wrong.status(runningJob());
    expect(answer.state).toBe(State.CONNECTION_ERR);
    expect(answer.error).toBe(`Armada event stream failed: UNAUTHENTICATED: OIDC token endpoint ${endpoint.url} answered HTTP 400 (invalid_grant)`);
    expect(wrong.logs()).not.toContain("not-the-password");
  });

  it("exec: the helper's token is sent; a failing helper is a CONNECTION_ERR naming its exit, retried until it works", async () => {
    const key = runningJob();
    sim.faults.requireAuth([{ kind: "bearer", token: "from-the-helper" }]);
    const tokenFile = join(dir, "helper-token");
    const service = subscriberWith({
      kind: "exec",
      command: process.execPath,
      args: [HELPER, "file", tokenFile, CLIENT_SECRET],
      env: {},
      timeoutMs: 5_000,
      cacheSeconds: 60,
    });
    const failing = await service.status(key);
    expect(failing.state).toBe(State.CONNECTION_ERR);
    expect(failing.error).toMatch(
      /^Armada event stream failed: UNAVAILABLE: Armada exec credential command ".+" exited with code 4 \(stderr: \d+ bytes, not shown as it may hold secrets\)$/,
    );
    expect(failing.error).not.toContain(CLIENT_SECRET);

    await writeFile(tokenFile, "from-the-helper\n");
    expect(
      (
        await eventually(
          () => service.status(key),
          (a) => a.state === State.RUNNING,
        )
      ).state,
    ).toBe(State.RUNNING);
    expect(streamCalls(sim, key.jobSetId).at(-1)?.authorization).toBe("Bearer from-the-helper");
    expect(service.logs()).not.toContain(CLIENT_SECRET);
  });

  it("Kubernetes native auth: Armada's header from the pod's files, the rotated token on the next stream", async () => {
    const key = runningJob();
    const tokenFile = join(dir, "sa-token");
    const caFile = join(dir, "ca.crt");
    const sub = "system:serviceaccount:airflow:jobservice";
    const [first, second] = await Promise.all([serviceAccountToken({ sub, expiresInSeconds: 600 }), serviceAccountToken({ sub, expiresInSeconds: 600 })]);
    await writeFile(tokenFile, first);
    await writeFile(caFile, TEST_CLUSTER_CA);
    sim.faults.requireAuth([{ kind: "kubernetes", token: first, ca: TEST_CLUSTER_CA, queues: [QUEUE] }]);
    const service = subscriberWith({ kind: "kubernetes", tokenFile, caFile });
    expect(
      (
        await eventually(
          () => service.status(key),
          (a) => a.state === State.RUNNING,
        )
      ).state,
    ).toBe(State.RUNNING);
    expect(streamCalls(sim, key.jobSetId)[0]?.authorization).toBe(armadaStyleKubernetesAuth(first, TEST_CLUSTER_CA));

    await writeFile(`${tokenFile}.new`, second);
    await rename(`${tokenFile}.new`, tokenFile);
    sim.faults.requireAuth([{ kind: "kubernetes", token: second, ca: TEST_CLUSTER_CA }]);
    sim.faults.dropStreams(Code.Unavailable, "rotating");
    sim.cancel(QUEUE, key.jobSetId, [key.jobId]);
    expect(
      (
        await eventually(
          () => service.status(key),
          (a) => a.state === State.CANCELLED,
        )
      ).state,
    ).toBe(State.CANCELLED);
    expect(streamCalls(sim, key.jobSetId).at(-1)?.authorization).toBe(armadaStyleKubernetesAuth(second, TEST_CLUSTER_CA));
    expect(service.logs()).not.toContain(first.split(".")[2]);
  });
});
