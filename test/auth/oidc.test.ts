import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_DEFAULTS, type AuthOptions } from "../../src/auth/index.js";
import { jobRecord, seedJobs, State } from "../support/jobs.js";
import { startOidcIssuer, type OidcIssuer } from "../support/oidc-issuer.js";
import { startTestService, type TestService } from "../support/service.js";
import { curlAsk, GRPCIO, PROTOCOLS, type Ask } from "./callers.js";

const AUDIENCE = "armada-jobservice";
const A = { queue: "team-a", jobSetId: "s", jobId: "done" };
const B = { queue: "team-b", jobSetId: "s", jobId: "done" };
const dir = mkdtempSync(join(tmpdir(), "jobservice-oidc-"));
const permissionsFile = join(dir, "permissions.yaml");
writeFileSync(permissionsFile, 'users:\n  alice: [team-a]\ngroups:\n  data-eng: ["team-*"]\n');

let issuer: OidcIssuer;
const services: TestService[] = [];
const grpc: Ask = PROTOCOLS["gRPC (connect-node)"]!("");

async function oidcService(jwksCooldownMs: number, overrides: Partial<AuthOptions["oidc"]> = {}): Promise<TestService> {
  const service = await startTestService({
    auth: {
      ...AUTH_DEFAULTS,
      mode: "oidc",
      permissionsFile,
      oidc: {
        issuer: issuer.issuer,
        audience: AUDIENCE,
        algorithms: ["RS256", "ES256"],
        leewaySeconds: 5,
        usernameClaim: "sub",
        groupsClaim: "groups",
        ...overrides,
      },
    },
    authTuning: { jwksCooldownMs },
  });
  for (const key of [A, B]) await seedJobs(service.store, key, { done: jobRecord(State.SUCCEEDED) });
  services.push(service);
  return service;
}

beforeAll(async () => {
  issuer = await startOidcIssuer({ audience: AUDIENCE });
});
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await issuer?.stop();
});

describe("oidc mode", () => {
  let service: TestService;
  beforeAll(async () => {
    service = await oidcService(0);
  });

  it("accepts a token from the issuer's token endpoint; the permissions file decides the queue", async () => {
    const response = await fetch(`${issuer.issuer}/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", username: "alice", password: "alice-pw" }),
    });
    const { access_token: token } = (await response.json()) as { access_token: string };
    expect((await curlAsk(service.url, A, bearer(token))).result).toBe("SUCCEEDED");
    expect(await curlAsk(service.url, B, bearer(token))).toMatchObject({
      result: "PERMISSION_DENIED",
      http: 403,
      message: '"alice" may not watch queue "team-b"',
    });
  });

  it("grants by the groups claim", async () => {
    const token = await issuer.token("bob", { groups: ["data-eng"] });
    expect((await grpc(service.url, B, bearer(token))).result).toBe("SUCCEEDED");
    expect((await grpc(service.url, B, bearer(await issuer.token("bob", { groups: ["other"] })))).result).toBe("PERMISSION_DENIED");
  });

  const refusals: [string, () => Promise<string>, RegExp][] = [
    ["an expired token", () => issuer.token("alice", {}, { expiresIn: -60 }), /^the token has expired$/],
    ["a token for another audience", () => issuer.token("alice", {}, { audience: "someone-else" }), /not meant for this audience/],
    ["a token from another issuer", () => issuer.token("alice", {}, { issuer: "https://evil.example" }), /not issued by the configured issuer/],
    ["a token signed with a key the issuer never published", () => issuer.token("alice", {}, { unpublishedKey: true }), /key the issuer does not publish/],
    ["a token that is not valid yet", () => issuer.token("alice", {}, { notBefore: 600 }), /not valid yet/],
    ["an unsigned token (alg: none)", async () => issuer.unsigned({ sub: "alice" }), /algorithm is not allowed/],
    ["HS256 signed with the issuer's public key as the secret", async () => issuer.hmacWithPublicKey({ sub: "alice" }), /algorithm is not allowed/],
    ["something that is not a JWT", async () => "opaque-token", /not a valid signed JWT/],
  ];
  it.each(refusals)("refuses %s with UNAUTHENTICATED on every protocol", async (_name, make, message) => {
    const token = await make();
    for (const [protocol, ask] of Object.entries(PROTOCOLS)) {
      if (protocol === GRPCIO) continue;
      const outcome = await ask("")(service.url, A, bearer(token));
      expect(outcome, protocol).toMatchObject({ result: "UNAUTHENTICATED" });
      expect(outcome.message, protocol).toMatch(message);
      expect(outcome.message).not.toContain(token);
    }
  });

  it("refuses basic credentials and missing ones with UNAUTHENTICATED", async () => {
    expect(await grpc(service.url, A, { basic: ["alice", "alice-pw"] })).toMatchObject({
      result: "UNAUTHENTICATED",
      message: expect.stringMatching(/Bearer <token>/),
    });
    expect(await curlAsk(service.url, A, null)).toMatchObject({ result: "UNAUTHENTICATED", http: 401 });
  });

  it("follows a key rotation: a token with an unknown kid refetches the JWKS", async () => {
    await grpc(service.url, A, bearer(await issuer.token("alice")));
    const before = issuer.jwksFetches();
    await issuer.rotate();
    expect((await grpc(service.url, A, bearer(await issuer.token("alice")))).result).toBe("SUCCEEDED");
    expect(issuer.jwksFetches()).toBe(before + 1);
  });
});

describe("oidc mode's key refetches", () => {
  it("are rate-limited: a flood of unknown key ids does not become a flood of JWKS fetches", async () => {
    const service = await oidcService(60_000);
    expect((await grpc(service.url, A, bearer(await issuer.token("alice")))).result).toBe("SUCCEEDED");
    const after = issuer.jwksFetches();
    const forged = await Promise.all(Array.from({ length: 10 }, () => issuer.token("alice", {}, { unpublishedKey: true })));
    const outcomes = await Promise.all(forged.map((token) => grpc(service.url, A, bearer(token))));
    expect(new Set(outcomes.map((o) => o.result))).toEqual(new Set(["UNAUTHENTICATED"]));
    expect(issuer.jwksFetches()).toBe(after);
  });

  it("answer UNAVAILABLE while the issuer cannot be reached", async () => {
    const service = await oidcService(0, { issuer: "http://127.0.0.1:9" });
    const outcome = await grpc(service.url, A, bearer(await issuer.token("alice")));
    expect(outcome.result).toBe("UNAVAILABLE");
    expect(outcome.message).toMatch(/^cannot read the OIDC discovery document/);
  });
});

function bearer(token: string) {
  return { header: `Bearer ${token}` };
}
