import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import type { JobStore } from "../../src/store/store.js";
import type { ArmadaCredentials } from "../../src/subscriber/options.js";
import { serviceAccountToken, TEST_CLUSTER_CA } from "../support/service-account.js";
import { startTokenEndpoint, type TokenEndpoint } from "../support/token-endpoint.js";
import {
  eventually,
  FAST_LIFECYCLE,
  LONG_RUN,
  startStoreFixture,
  startSubscriber,
  testOptions,
  uniqueJobSet,
  type StoreFixture,
  type TestSubscriber,
} from "./harness.js";

const QUEUE = "secrets";
const HELPER = fileURLToPath(new URL("../support/token-helper.mjs", import.meta.url));
const S = {
  basicPassword: "basic-pw-Zq81",
  wrongBasicPassword: "wrong-basic-pw-Yx02",
  bearer: "static-bearer-Kk37",
  wrongBearer: "wrong-bearer-Lm44",
  clientSecret: "client-secret-Pp55",
  wrongClientSecret: "wrong-client-secret-Qq66",
  userPassword: "user-pw-Rr77",
  wrongUserPassword: "wrong-user-pw-Ss88",
  execToken: "exec-token-Tt99",
  execEnvSecret: "exec-env-secret-Uu10",
  execLeak: "exec-leaked-secret-Vv21",
} as const;

/** Every form a secret could leak in: as is, and base64/base64url of it and of `user:secret`. */
function forms(secret: string, user?: string): string[] {
  const encodings = (value: string) => [Buffer.from(value).toString("base64"), Buffer.from(value).toString("base64url")];
  return [secret, ...encodings(secret), ...(user ? encodings(`${user}:${secret}`) : [])].map((form) => form.replace(/=+$/, ""));
}

describe("no Armada credential reaches a log line, a metric or a CONNECTION_ERR, at trace level", () => {
  let sim: Simulator;
  let fixture: StoreFixture;
  let store: JobStore;
  let endpoint: TokenEndpoint;
  let grantEndpoint: TokenEndpoint;
  let dir: string;
  let saToken: string;
  let rejectedSaToken: string;
  const running: TestSubscriber[] = [];

  beforeAll(async () => {
    [sim, fixture, endpoint, dir, saToken, rejectedSaToken] = await Promise.all([
      startSimulator({ queues: [QUEUE], lifecycle: FAST_LIFECYCLE }),
      startStoreFixture("memory"),
      startTokenEndpoint({
        clientId: "jobservice",
        clientSecret: S.clientSecret,
        expiresInSeconds: 300,
        tokenPrefix: "issued-access-token-Ww32",
        users: { airflow: S.userPassword },
        refreshTokens: true,
      }),
      mkdtemp(join(tmpdir(), "credential-secrets-")),
      serviceAccountToken({ sub: "system:serviceaccount:airflow:jobservice", expiresInSeconds: 600 }),
      serviceAccountToken({ sub: "system:serviceaccount:airflow:intruder", expiresInSeconds: 600 }),
    ]);
    store = fixture.open();
    grantEndpoint = await startTokenEndpoint({
      clientId: "armada",
      clientSecret: "",
      expiresInSeconds: 300,
      tokenPrefix: "grant-access-token-Xx43",
      kubernetesAssertions: () => [saToken],
    });
    await writeFile(join(dir, "ca.crt"), TEST_CLUSTER_CA);
    await writeFile(join(dir, "token"), saToken);
    await writeFile(join(dir, "rejected-token"), rejectedSaToken);
    sim.faults.requireAuth([
      { kind: "basic", user: "airflow", password: S.basicPassword },
      { kind: "bearer", token: S.bearer },
      { kind: "bearer", token: S.execToken },
      ...Array.from({ length: 20 }, (_, i) => ({ kind: "bearer", token: endpoint.tokenNumber(i + 1) }) as const),
      ...Array.from({ length: 5 }, (_, i) => ({ kind: "bearer", token: grantEndpoint.tokenNumber(i + 1) }) as const),
      { kind: "kubernetes", token: saToken, ca: TEST_CLUSTER_CA },
    ]);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await sim?.close();
    await fixture?.stop();
    await endpoint?.stop();
    await grantEndpoint?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const oidc = { tokenUrl: "", clientId: "jobservice", scopes: ["armada"] };
  const exec = (args: string[]): ArmadaCredentials => ({
    kind: "exec",
    command: process.execPath,
    args: [HELPER, ...args],
    env: { HELPER_SECRET: S.execEnvSecret },
    timeoutMs: 5_000,
    cacheSeconds: 60,
  });
  const cases: ReadonlyArray<{ name: string; credentials: () => ArmadaCredentials; works: boolean; secrets: () => string[] }> = [
    {
      name: "basic",
      works: true,
      credentials: () => ({ kind: "basic", username: "airflow", password: S.basicPassword }),
      secrets: () => forms(S.basicPassword, "airflow"),
    },
    {
      name: "basic, wrong password",
      works: false,
      credentials: () => ({ kind: "basic", username: "airflow", password: S.wrongBasicPassword }),
      secrets: () => forms(S.wrongBasicPassword, "airflow"),
    },
    { name: "bearer", works: true, credentials: () => ({ kind: "bearer", token: S.bearer }), secrets: () => forms(S.bearer) },
    { name: "bearer, wrong token", works: false, credentials: () => ({ kind: "bearer", token: S.wrongBearer }), secrets: () => forms(S.wrongBearer) },
    {
      name: "OIDC client credentials",
      works: true,
      credentials: () => ({ kind: "oidc", ...oidc, tokenUrl: endpoint.url, clientSecret: S.clientSecret }),
      secrets: () => [...forms(S.clientSecret, "jobservice"), endpoint.tokenNumber(1).slice(0, -2)],
    },
    {
      name: "OIDC client credentials, wrong secret (the endpoint echoes it)",
      works: false,
      credentials: () => ({ kind: "oidc", ...oidc, tokenUrl: endpoint.url, clientSecret: S.wrongClientSecret }),
      secrets: () => forms(S.wrongClientSecret, "jobservice"),
    },
    {
      name: "OIDC password grant",
      works: true,
      credentials: () => ({
        kind: "oidc-password",
        ...oidc,
        tokenUrl: undefined,
        providerUrl: endpoint.issuer,
        clientSecret: S.clientSecret,
        username: "airflow",
        password: S.userPassword,
      }),
      secrets: () => [...forms(S.userPassword, "airflow"), ...forms(S.clientSecret, "jobservice"), endpoint.tokenNumber(1).slice(0, -2), "refresh-"],
    },
    {
      name: "OIDC password grant, wrong password (the endpoint echoes it)",
      works: false,
      credentials: () => ({
        kind: "oidc-password",
        ...oidc,
        tokenUrl: endpoint.url,
        clientSecret: S.clientSecret,
        username: "airflow",
        password: S.wrongUserPassword,
      }),
      secrets: () => forms(S.wrongUserPassword, "airflow"),
    },
    {
      name: "OIDC kubernetes grant (armadactl's openIdKubernetesAuth)",
      works: true,
      credentials: () => ({ kind: "oidc-kubernetes", tokenUrl: grantEndpoint.url, clientId: "armada", assertionFile: join(dir, "token"), scopes: [] }),
      secrets: () => [...forms(saToken), saToken.split(".")[2] ?? "", grantEndpoint.tokenNumber(1).slice(0, -2)],
    },
    {
      name: "OIDC kubernetes grant, an assertion the endpoint refuses (and echoes)",
      works: false,
      credentials: () => ({ kind: "oidc-kubernetes", tokenUrl: grantEndpoint.url, clientId: "armada", assertionFile: join(dir, "rejected-token"), scopes: [] }),
      secrets: () => [...forms(rejectedSaToken), rejectedSaToken.split(".")[2] ?? ""],
    },
    { name: "exec", works: true, credentials: () => exec(["token", S.execToken]), secrets: () => [...forms(S.execToken), ...forms(S.execEnvSecret)] },
    {
      name: "exec, failing and printing a secret on stdout and stderr",
      works: false,
      credentials: () => exec(["fail", "2", S.execLeak]),
      secrets: () => [...forms(S.execLeak), ...forms(S.execEnvSecret)],
    },
    {
      name: "Kubernetes native auth",
      works: true,
      credentials: () => ({ kind: "kubernetes", tokenFile: join(dir, "token"), caFile: join(dir, "ca.crt") }),
      secrets: () => [...forms(saToken), saToken.split(".")[2] ?? ""],
    },
    {
      name: "Kubernetes native auth, a token Armada rejects",
      works: false,
      credentials: () => ({ kind: "kubernetes", tokenFile: join(dir, "rejected-token"), caFile: join(dir, "ca.crt") }),
      secrets: () => [...forms(rejectedSaToken), rejectedSaToken.split(".")[2] ?? ""],
    },
  ];

  it.each(cases)("$name", async ({ credentials, works, secrets }) => {
    const jobSetId = uniqueJobSet("secrets");
    const [jobId] = sim.submit(QUEUE, jobSetId, [LONG_RUN]);
    const key = { queue: QUEUE, jobSetId, jobId: jobId! };
    const service = startSubscriber(store, testOptions(sim.url, { credentials: credentials(), slowRetryMs: 100 }), "trace");
    running.push(service);
    const answer = await eventually(
      () => service.status(key),
      (a) => (works ? a.state === State.RUNNING : a.state === State.CONNECTION_ERR),
    );
    // A failing identity retries: let it fail at least twice, so the retry path is in the logs too.
    if (!works)
      await eventually(
        () => service.logs().split("retrying").length,
        (n) => n >= 3,
        5_000,
      );
    const seen = [answer.error ?? "", service.logs(), await service.metrics.metrics()].join("\n");
    expect(service.logs().length).toBeGreaterThan(0);
    for (const secret of secrets()) expect(seen, `leaked ${secret}`).not.toContain(secret);
  });
});
