import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_DEFAULTS } from "../../src/auth/index.js";
import { ConfigError, loadServeConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/observability/logger.js";
import { jobRecord, seedJobs, State } from "../support/jobs.js";
import { startTestService, type TestService } from "../support/service.js";
import { eventually } from "../subscriber/harness.js";
import { curlAsk, PROTOCOLS, type Ask } from "./callers.js";

const dir = mkdtempSync(join(tmpdir(), "jobservice-basic-"));
const usersFile = join(dir, "users");
const permissionsFile = join(dir, "permissions.yaml");
const queues = ["team-a", "team-b", "etl-nightly", "ops-only"];
const key = (queue: string) => ({ queue, jobSetId: "s", jobId: "done" });
/** htpasswd -B writes `$2y$`; bcryptjs writes `$2b$`: the same algorithm. */
const htpasswd = (password: string): string => bcrypt.hashSync(password, 4).replace(/^\$2b\$/, "$2y$");

/** Replaces a file in one step, as editors and Kubernetes do. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

let service: TestService;
let logged = "";
const grpc: Ask = PROTOCOLS["gRPC (connect-node)"]!("");

beforeAll(async () => {
  writeFileSync(
    usersFile,
    [
      "# made with htpasswd -B, groups after the last colon",
      `alice:${htpasswd("alice-secret")}`,
      `bob:${htpasswd("bob-secret")}:data-eng`,
      `olga:${htpasswd("olga-secret")}:admins`,
      "",
    ].join("\n"),
  );
  writeFileSync(
    permissionsFile,
    ["allQueues:", "  groups: [admins]", "users:", "  alice: [team-a]", "groups:", '  data-eng: ["etl-*", team-b]', ""].join("\n"),
  );
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((logged += chunk.toString()), done()) });
  service = await startTestService({
    auth: { ...AUTH_DEFAULTS, mode: "basic", usersFile, permissionsFile, cacheSeconds: 60 },
    authTuning: { fileReloadMs: 20 },
    logger: createLogger("trace", sink),
  });
  for (const queue of queues) await seedJobs(service.store, key(queue), { done: jobRecord(State.SUCCEEDED) });
});
afterAll(() => service?.stop());

describe("basic mode", () => {
  it("checks passwords against bcrypt hashes; the permissions file grants by user, group, glob and all-queues", async () => {
    expect((await curlAsk(service.url, key("team-a"), { basic: ["alice", "alice-secret"] })).result).toBe("SUCCEEDED");
    expect((await curlAsk(service.url, key("team-b"), { basic: ["alice", "alice-secret"] })).result).toBe("PERMISSION_DENIED");
    expect((await grpc(service.url, key("etl-nightly"), { basic: ["bob", "bob-secret"] })).result).toBe("SUCCEEDED");
    expect((await grpc(service.url, key("team-b"), { basic: ["bob", "bob-secret"] })).result).toBe("SUCCEEDED");
    expect((await grpc(service.url, key("ops-only"), { basic: ["bob", "bob-secret"] })).result).toBe("PERMISSION_DENIED");
    for (const queue of queues) expect((await grpc(service.url, key(queue), { basic: ["olga", "olga-secret"] })).result).toBe("SUCCEEDED");
  });

  it("refuses a wrong password, an unknown user, a bearer token and nothing at all with UNAUTHENTICATED", async () => {
    for (const presented of [{ basic: ["alice", "wrong"] as const }, { basic: ["mallory", "alice-secret"] as const }]) {
      expect(await curlAsk(service.url, key("team-a"), presented)).toMatchObject({
        result: "UNAUTHENTICATED",
        http: 401,
        message: "user name or password not accepted",
      });
    }
    expect(await grpc(service.url, key("team-a"), { header: "Bearer some-token" })).toMatchObject({
      result: "UNAUTHENTICATED",
      message: expect.stringMatching(/basic <base64/),
    });
    expect(await grpc(service.url, key("team-a"), null)).toMatchObject({
      result: "UNAUTHENTICATED",
      message: expect.stringMatching(/^authorization required/),
    });
  });

  it("reloads the permissions file when it changes; a malformed one is logged and the last good one stays", async () => {
    const bob = { basic: ["bob", "bob-secret"] as const };
    expect((await grpc(service.url, key("ops-only"), bob)).result).toBe("PERMISSION_DENIED");
    replaceFile(permissionsFile, 'groups:\n  data-eng: ["etl-*", team-b, ops-only]\n');
    await eventually(
      () => grpc(service.url, key("ops-only"), bob),
      (o) => o.result === "SUCCEEDED",
      5_000,
    );

    replaceFile(permissionsFile, "groups:\n  data-eng: [unclosed\n");
    await eventually(
      () => logged,
      (text) => text.includes("permissions file not reloaded"),
      5_000,
    );
    expect(logged).toMatch(/"problem":"[^"]*permissions.yaml line \d+: /);
    expect((await grpc(service.url, key("ops-only"), bob)).result).toBe("SUCCEEDED");
  });

  it("reloads the users file: a new user can sign in, and a removed one cannot", async () => {
    const carol = { basic: ["carol", "carol-secret"] as const };
    expect((await grpc(service.url, key("ops-only"), carol)).result).toBe("UNAUTHENTICATED");
    replaceFile(usersFile, `bob:${htpasswd("bob-secret")}:data-eng\ncarol:${htpasswd("carol-secret")}:data-eng\n`);
    await eventually(
      () => grpc(service.url, key("ops-only"), carol),
      (o) => o.result === "SUCCEEDED",
      5_000,
    );
    expect((await grpc(service.url, key("team-a"), { basic: ["alice", "alice-secret"] })).result).toBe("UNAUTHENTICATED");
  });
});

describe("auth settings at start-up", () => {
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      loadServeConfig(env, []);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems];
      throw error;
    }
  };

  it("stop the service naming the line of a malformed permissions or users file", () => {
    const badPermissions = join(dir, "bad.yaml");
    writeFileSync(badPermissions, "users:\n  alice: [team-a]\n  bob: team-b\n");
    const badUsers = join(dir, "bad-users");
    writeFileSync(badUsers, `alice:${htpasswd("x")}\nbob:$apr1$abcdefgh$0123456789abcdefghijkl\n`);
    expect(problemsOf({ JOBSERVICE_AUTH: "basic", JOBSERVICE_USERS_FILE: badUsers, JOBSERVICE_PERMISSIONS_FILE: badPermissions })).toEqual([
      `JOBSERVICE_PERMISSIONS_FILE (--permissions-file): ${badPermissions} line 3: users.bob must be a list`,
      `JOBSERVICE_USERS_FILE (--users-file): ${badUsers} line 2: user "bob" has no bcrypt hash (make one with htpasswd -B, or bcrypt's $2a$/$2b$/$2y$ format)`,
    ]);
  });

  it("name what each mode needs, and refuse settings of another mode", () => {
    const goodPermissions = join(dir, "good.yaml");
    writeFileSync(goodPermissions, "users:\n  alice: [team-a]\n");
    expect(problemsOf({ JOBSERVICE_AUTH: "oidc" })).toEqual([
      "JOBSERVICE_PERMISSIONS_FILE (--permissions-file): required with JOBSERVICE_AUTH (--auth) oidc",
      "JOBSERVICE_OIDC_ISSUER (--oidc-issuer): required with JOBSERVICE_AUTH (--auth) oidc",
      "JOBSERVICE_OIDC_AUDIENCE (--oidc-audience): required with JOBSERVICE_AUTH (--auth) oidc",
    ]);
    expect(
      problemsOf({
        JOBSERVICE_AUTH: "oidc",
        JOBSERVICE_OIDC_ISSUER: "https://idp.example",
        JOBSERVICE_OIDC_AUDIENCE: "x",
        JOBSERVICE_PERMISSIONS_FILE: goodPermissions,
        JOBSERVICE_OIDC_ALGORITHMS: "RS256,HS256,none",
      }),
    ).toEqual([expect.stringMatching(/^JOBSERVICE_OIDC_ALGORITHMS \(--oidc-algorithms\): expected asymmetric JWS algorithms .*, got HS256, none$/)]);
    expect(problemsOf({ JOBSERVICE_AUTH: "armada", JOBSERVICE_USERS_FILE: usersFile })).toEqual([
      "JOBSERVICE_USERS_FILE (--users-file): only used with JOBSERVICE_AUTH (--auth) basic, not armada",
    ]);
    expect(problemsOf({ JOBSERVICE_AUTH: "kerberos" })).toEqual([
      expect.stringMatching(/^JOBSERVICE_AUTH \(--auth\): expected one of none, armada, oidc, basic/),
    ]);
    expect(problemsOf({ JOBSERVICE_TLS_CLIENT_CA_FILE: usersFile })).toEqual([
      "JOBSERVICE_TLS_CLIENT_CA_FILE (--tls-client-ca-file): needs TLS (JOBSERVICE_TLS_CERT_FILE (--tls-cert-file) and JOBSERVICE_TLS_KEY_FILE (--tls-key-file))",
      "JOBSERVICE_TLS_CLIENT_CA_FILE (--tls-client-ca-file): needs JOBSERVICE_AUTH (--auth) armada, oidc or basic; with none every caller is let in anyway",
      "JOBSERVICE_TLS_CLIENT_CA_FILE (--tls-client-ca-file): needs JOBSERVICE_PERMISSIONS_FILE (--permissions-file), which decides what a certificate's subject may watch",
    ]);
  });
});
