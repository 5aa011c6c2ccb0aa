import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_DEFAULTS, type AuthOptions } from "../../src/auth/index.js";
import { createLogger, type Logger } from "../../src/observability/logger.js";
import { createMetricsRegistry } from "../../src/observability/metrics.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { createSubscriber } from "../../src/subscriber/index.js";
import { http1Request } from "../support/http.js";
import { startOidcIssuer, type OidcIssuer } from "../support/oidc-issuer.js";
import { startTestService } from "../support/service.js";
import { testOptions } from "../subscriber/harness.js";
import { authorizationOf, GRPCIO, PROTOCOLS, type Presented } from "./callers.js";

const QUEUE = "secret-q";
const OTHER = "other-q";
const METRICS_TOKEN = "metrics-scrape-token-S3CRET";
const SERVICE_PASSWORD = "service-account-pw-S3CRET";
const USER_PASSWORD = "user-pw-S3CRET";
const WRONG_PASSWORD = "wrong-guess-pw-S3CRET";
const TOKEN = "opaque-bearer-token-S3CRET";

const dir = mkdtempSync(join(tmpdir(), "jobservice-secrets-"));
let sim: Simulator;
let issuer: OidcIssuer;

/** Every form in which a secret could leak: itself, and any credential header carrying it. */
function forms(presented: readonly Presented[], secrets: readonly string[]): string[] {
  const headers = presented.map((p) => authorizationOf(p) ?? "").filter((h) => h !== "");
  const encoded = headers.map((h) => h.replace(/^\S+\s+/, ""));
  return [...secrets, ...secrets.map((s) => Buffer.from(s).toString("base64")), ...encoded];
}

/** Runs the service in one mode at trace level, makes good and bad calls on every protocol, and returns all it said. */
async function exercise(auth: AuthOptions, calls: readonly Presented[]): Promise<string> {
  let logged = "";
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((logged += chunk.toString()), done()) });
  const logger: Logger = createLogger("trace", sink);
  const store = createMemoryStore({ ttlSeconds: 600 });
  const metrics = createMetricsRegistry({ processMetrics: false });
  const subscriber = createSubscriber(testOptions(sim.url, { credentials: { kind: "basic", username: "jobservice", password: SERVICE_PASSWORD } }), {
    store,
    logger,
    metrics,
  });
  const service = await startTestService({ store, status: subscriber, armadaUrl: sim.url, auth: { ...auth, metricsToken: METRICS_TOKEN }, logger });
  const said: string[] = [];
  try {
    for (const [name, make] of Object.entries(PROTOCOLS)) {
      if (name === GRPCIO) continue;
      const ask = make("");
      for (const presented of calls) {
        for (const queue of [QUEUE, OTHER]) {
          const outcome = await ask(service.url, { queue, jobSetId: "s", jobId: "j" }, presented);
          said.push(`${outcome.result} ${outcome.message}`);
        }
      }
    }
    said.push((await http1Request(`${service.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).body);
    said.push((await http1Request(`${service.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}-wrong` } })).body);
  } finally {
    await service.stop();
    await subscriber.close();
  }
  if (!logged.includes('"level":10')) throw new Error("nothing was logged at trace level: the test would prove nothing");
  return [logged, ...said].join("\n");
}

beforeAll(async () => {
  [sim, issuer] = await Promise.all([
    startSimulator({
      queues: [QUEUE, OTHER],
      credentials: [
        { kind: "basic", user: "jobservice", password: SERVICE_PASSWORD },
        { kind: "basic", user: "user", password: USER_PASSWORD, queues: [QUEUE] },
        { kind: "bearer", token: TOKEN, queues: [QUEUE] },
      ],
    }),
    startOidcIssuer({ audience: "jobservice" }),
  ]);
  writeFileSync(join(dir, "users"), `user:${bcrypt.hashSync(USER_PASSWORD, 4)}\n`);
  writeFileSync(join(dir, "permissions.yaml"), `users:\n  user: [${QUEUE}]\n`);
});
afterAll(async () => {
  await sim?.close();
  await issuer?.stop();
});

describe("no credential ever reaches a log line, /metrics or an error message", () => {
  const basicCalls: Presented[] = [{ basic: ["user", USER_PASSWORD] }, { basic: ["user", WRONG_PASSWORD] }, { header: `Bearer ${TOKEN}` }, null];

  it.each([
    ["none", { ...AUTH_DEFAULTS }],
    ["armada", { ...AUTH_DEFAULTS, mode: "armada" as const }],
    ["basic", { ...AUTH_DEFAULTS, mode: "basic" as const, usersFile: join(dir, "users"), permissionsFile: join(dir, "permissions.yaml") }],
  ])("%s mode, at trace level", async (_mode, auth) => {
    const text = await exercise(auth, basicCalls);
    expect(text).toMatch(/SUCCEEDED|JOB_ID_NOT_FOUND|CONNECTION_ERR/);
    for (const secret of forms(basicCalls, [SERVICE_PASSWORD, USER_PASSWORD, WRONG_PASSWORD, TOKEN, METRICS_TOKEN])) expect(text).not.toContain(secret);
  });

  it("oidc mode, at trace level", async () => {
    const good = await issuer.token("user");
    const expired = await issuer.token("user", {}, { expiresIn: -60 });
    const calls: Presented[] = [
      { header: `Bearer ${good}` },
      { header: `Bearer ${expired}` },
      { header: `Bearer ${issuer.hmacWithPublicKey({ sub: "user" })}` },
    ];
    const auth: AuthOptions = {
      ...AUTH_DEFAULTS,
      mode: "oidc",
      permissionsFile: join(dir, "permissions.yaml"),
      oidc: { issuer: issuer.issuer, audience: "jobservice", algorithms: ["RS256"], leewaySeconds: 5, usernameClaim: "sub", groupsClaim: "groups" },
    };
    const text = await exercise(auth, calls);
    expect(text).toContain("the token has expired");
    // A JWT's signature is its secret part; its header alone is public, so check each whole token and its signature.
    const tokens = calls.map((c) => (authorizationOf(c) ?? "").slice("Bearer ".length));
    for (const secret of [...tokens, ...tokens.map((t) => t.split(".")[2] ?? "").filter((s) => s !== ""), SERVICE_PASSWORD, METRICS_TOKEN]) {
      expect(text).not.toContain(secret);
    }
  });
});
