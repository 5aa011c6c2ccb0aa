import { mkdtemp, rm, writeFile, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { createAuthorization } from "../../src/subscriber/credentials.js";
import { freePort } from "../support/free-port.js";
import { startTokenEndpoint, type TokenEndpoint } from "../support/token-endpoint.js";

const SECRET = "s3cr3t-value";

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConnectError) return err;
    throw err;
  }
  throw new Error("expected a failure");
}

describe("static credentials", () => {
  it("basic sends base64(user:password) under the basic scheme", async () => {
    const authorize = createAuthorization({ kind: "basic", username: "airflow", password: "pa:ss" }, { now: Date.now });
    expect(await authorize()).toBe(`basic ${Buffer.from("airflow:pa:ss").toString("base64")}`);
  });

  it("bearer sends the token", async () => {
    expect(await createAuthorization({ kind: "bearer", token: "t0k" }, { now: Date.now })()).toBe("Bearer t0k");
  });

  it("none sends nothing", async () => {
    expect(await createAuthorization({ kind: "none" }, { now: Date.now })()).toBeUndefined();
  });
});

describe("a token file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "token-file-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is read trimmed, and read again after it is replaced, as Kubernetes rotates projected tokens", async () => {
    const path = join(dir, "token");
    await writeFile(path, "first-token\n");
    const authorize = createAuthorization({ kind: "token-file", path }, { now: Date.now });
    expect(await authorize()).toBe("Bearer first-token");
    const next = join(dir, "token.next");
    await writeFile(next, "second-token");
    await rename(next, path);
    expect(await authorize()).toBe("Bearer second-token");
  });

  it("missing or empty is UNAUTHENTICATED naming the file", async () => {
    const missing = await failure(createAuthorization({ kind: "token-file", path: join(dir, "absent") }, { now: Date.now })());
    expect(missing.code).toBe(Code.Unauthenticated);
    expect(missing.rawMessage).toBe(`cannot read Armada token file ${join(dir, "absent")} (ENOENT)`);
    const empty = join(dir, "empty");
    await writeFile(empty, " \n");
    expect((await failure(createAuthorization({ kind: "token-file", path: empty }, { now: Date.now })())).rawMessage).toMatch(/is empty$/);
  });
});

describe("OpenID Connect client credentials", () => {
  let endpoint: TokenEndpoint;
  beforeAll(async () => {
    endpoint = await startTokenEndpoint({ clientId: "jobservice", clientSecret: SECRET, expiresInSeconds: 100, tokenPrefix: "oidc" });
  });
  afterAll(async () => {
    await endpoint?.stop();
  });

  const oidc = (clientSecret: string, tokenUrl = endpoint.url) =>
    ({ kind: "oidc", tokenUrl, clientId: "jobservice", clientSecret, scopes: ["armada", "watch"] }) as const;

  it("fetches a token with the client credentials grant and caches it until shortly before expiry", async () => {
    let now = 1_000_000;
    const authorize = createAuthorization(oidc(SECRET), { now: () => now });
    const before = endpoint.requests().length;
    const first = await authorize();
    expect(first).toMatch(/^Bearer oidc-\d+$/);
    expect(endpoint.requests().at(-1)).toEqual({ grantType: "client_credentials", clientId: "jobservice", clientSecret: SECRET, scope: "armada watch" });

    now += 50_000;
    expect(await authorize()).toBe(first);
    expect(endpoint.requests().length).toBe(before + 1);

    // 100 s lifetime: refreshed from 75 s on, before it expires.
    now += 26_000;
    const refreshed = await authorize();
    expect(refreshed).not.toBe(first);
    expect(endpoint.requests().length).toBe(before + 2);
  });

  it("concurrent calls share one token request", async () => {
    const authorize = createAuthorization(oidc(SECRET), { now: Date.now });
    const before = endpoint.requests().length;
    const values = await Promise.all(Array.from({ length: 10 }, () => authorize()));
    expect(new Set(values).size).toBe(1);
    expect(endpoint.requests().length).toBe(before + 1);
  });

  it("a rejected client is UNAUTHENTICATED, naming the OAuth error but never the secret", async () => {
    const err = await failure(createAuthorization(oidc("wrong-secret"), { now: Date.now })());
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(`OIDC token endpoint ${endpoint.url} answered HTTP 401 (invalid_client)`);
    expect(err.message).not.toContain("wrong-secret");
  });

  it("an unreachable endpoint is UNAVAILABLE", async () => {
    const closed = `http://127.0.0.1:${await freePort()}/token`;
    const err = await failure(createAuthorization(oidc(SECRET, closed), { now: Date.now })());
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(`OIDC token endpoint ${closed} unreachable (ECONNREFUSED)`);
  });
});
