import { mkdtemp, rm, writeFile, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { createAuthorization } from "../../src/armada/credentials.js";
import { freePort } from "../support/free-port.js";
import { armadaStyleKubernetesAuth, serviceAccountToken, TEST_CLUSTER_CA } from "../support/service-account.js";
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

describe("OpenID Connect discovery", () => {
  let endpoint: TokenEndpoint;
  beforeAll(async () => {
    endpoint = await startTokenEndpoint({ clientId: "jobservice", clientSecret: SECRET, expiresInSeconds: 100, tokenPrefix: "found" });
  });
  afterAll(async () => {
    await endpoint?.stop();
  });

  it("finds the token endpoint from the issuer (armadactl's providerUrl) once, then posts grants to it", async () => {
    const authorize = createAuthorization(
      { kind: "oidc", providerUrl: endpoint.issuer, clientId: "jobservice", clientSecret: SECRET, scopes: [] },
      { now: Date.now },
    );
    expect(await authorize()).toMatch(/^Bearer found-\d+$/);
    expect(endpoint.discoveries()).toBe(1);
    expect(endpoint.requests().at(-1)).toMatchObject({ grantType: "client_credentials", clientId: "jobservice" });
  });

  it("refuses a discovery document for another issuer, as go-oidc does", async () => {
    const claimed = `${endpoint.issuer}/realms/other`;
    const err = await failure(
      createAuthorization({ kind: "oidc", providerUrl: claimed, clientId: "jobservice", clientSecret: SECRET, scopes: [] }, { now: Date.now })(),
    );
    // The endpoint serves discovery only at its root; a 404 is reported as such.
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(`OIDC discovery document ${claimed}/.well-known/openid-configuration answered HTTP 404`);
    const mismatch = await failure(
      createAuthorization({ kind: "oidc", providerUrl: `${endpoint.issuer}/`, clientId: "jobservice", clientSecret: SECRET, scopes: [] }, { now: Date.now })(),
    );
    expect(mismatch.rawMessage).toBe(
      `OIDC discovery document ${endpoint.issuer}/.well-known/openid-configuration names issuer "${endpoint.issuer}", expected "${endpoint.issuer}/"`,
    );
  });
});

describe("OpenID Connect password grant", () => {
  const PASSWORD = "pw-of-the-airflow-user";
  let endpoint: TokenEndpoint;
  let withoutRefresh: TokenEndpoint;
  beforeAll(async () => {
    [endpoint, withoutRefresh] = await Promise.all([
      startTokenEndpoint({
        clientId: "armadactl",
        clientSecret: "",
        expiresInSeconds: 100,
        tokenPrefix: "pw",
        users: { airflow: PASSWORD },
        refreshTokens: true,
      }),
      startTokenEndpoint({ clientId: "armadactl", clientSecret: SECRET, expiresInSeconds: 100, tokenPrefix: "conf", users: { airflow: PASSWORD } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([endpoint?.stop(), withoutRefresh?.stop()]);
  });

  const password = (tokenUrl: string, secret?: string, pass = PASSWORD) =>
    ({
      kind: "oidc-password",
      tokenUrl,
      clientId: "armadactl",
      clientSecret: secret,
      username: "airflow",
      password: pass,
      scopes: ["openid", "armada"],
    }) as const;

  it("a public client grants the password once, then renews with the refresh token before expiry", async () => {
    let now = 5_000_000;
    const authorize = createAuthorization(password(endpoint.url), { now: () => now });
    const before = endpoint.requests().length;
    const first = await authorize();
    expect(first).toMatch(/^Bearer pw-\d+$/);
    expect(endpoint.requests().at(-1)).toEqual({
      grantType: "password",
      clientId: "armadactl",
      clientSecret: "",
      scope: "openid armada",
      username: "airflow",
      password: PASSWORD,
    });

    now += 74_000;
    expect(await authorize()).toBe(first);
    now += 2_000;
    const renewed = await authorize();
    expect(renewed).not.toBe(first);
    const refresh = endpoint.requests().at(-1);
    expect(refresh).toMatchObject({ grantType: "refresh_token", clientId: "armadactl", refreshToken: expect.stringMatching(/^refresh-\d+$/) });
    expect(refresh?.password).toBeUndefined();

    // The endpoint rotates refresh tokens: the next renewal sends the new one.
    now += 76_000;
    await authorize();
    const second = endpoint.requests().at(-1);
    expect(second?.grantType).toBe("refresh_token");
    expect(second?.refreshToken).not.toBe(refresh?.refreshToken);
    expect(endpoint.requests().length).toBe(before + 3);
  });

  it("grants the password again when the refresh token is refused", async () => {
    let now = 9_000_000;
    const authorize = createAuthorization(password(endpoint.url), { now: () => now });
    await authorize();
    endpoint.revokeRefreshTokens();
    now += 80_000;
    expect(await authorize()).toMatch(/^Bearer pw-\d+$/);
    expect(
      endpoint
        .requests()
        .slice(-2)
        .map((r) => r.grantType),
    ).toEqual(["refresh_token", "password"]);
  });

  it("a confidential client authenticates with its secret and, without refresh tokens, grants again", async () => {
    let now = 1_000_000;
    const authorize = createAuthorization(password(withoutRefresh.url, SECRET), { now: () => now });
    await authorize();
    now += 80_000;
    await authorize();
    expect(withoutRefresh.requests().slice(-2)).toEqual([
      { grantType: "password", clientId: "armadactl", clientSecret: SECRET, scope: "openid armada", username: "airflow", password: PASSWORD },
      { grantType: "password", clientId: "armadactl", clientSecret: SECRET, scope: "openid armada", username: "airflow", password: PASSWORD },
    ]);
  });

  it("a wrong password is UNAUTHENTICATED naming the OAuth error, never the password", async () => {
    const err = await failure(createAuthorization(password(endpoint.url, undefined, "not-the-password"), { now: Date.now })());
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(`OIDC token endpoint ${endpoint.url} answered HTTP 400 (invalid_grant)`);
  });
});

describe("Kubernetes native auth", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "k8s-auth-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("sends byte for byte the KubernetesAuth header armadactl sends, and re-reads the files after rotation", async () => {
    const tokenFile = join(dir, "token");
    const caFile = join(dir, "ca.crt");
    const first = await serviceAccountToken({ sub: "system:serviceaccount:armada:jobservice", expiresInSeconds: 3600 });
    await writeFile(tokenFile, first);
    await writeFile(caFile, TEST_CLUSTER_CA);
    const authorize = createAuthorization({ kind: "kubernetes", tokenFile, caFile }, { now: Date.now });
    const header = await authorize();
    expect(header).toBe(armadaStyleKubernetesAuth(first, TEST_CLUSTER_CA));
    // Armada's parser: base64url without padding, then JSON, then the CA base64url again.
    const payload = header?.split(" ")[1] ?? "";
    expect(payload).not.toContain("=");
    const body = JSON.parse(Buffer.from(payload, "base64url").toString()) as { token: string; ca: string };
    expect(body.token).toBe(first);
    expect(Buffer.from(body.ca, "base64url").toString()).toBe(TEST_CLUSTER_CA);

    // The kubelet swaps the projected token through a symlinked directory; a rename is the same for a reader.
    const second = await serviceAccountToken({ sub: "system:serviceaccount:armada:jobservice", expiresInSeconds: 3600 });
    await writeFile(`${tokenFile}.new`, second);
    await rename(`${tokenFile}.new`, tokenFile);
    expect(await authorize()).toBe(armadaStyleKubernetesAuth(second, TEST_CLUSTER_CA));
  });

  it("a missing token or CA file is UNAUTHENTICATED naming the file", async () => {
    const tokenFile = join(dir, "present-token");
    await writeFile(tokenFile, "x.y.z");
    const err = await failure(createAuthorization({ kind: "kubernetes", tokenFile, caFile: join(dir, "absent.crt") }, { now: Date.now })());
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(`cannot read Kubernetes CA file ${join(dir, "absent.crt")} (ENOENT)`);
  });
});

describe("OpenID Connect with the service-account token as client assertion (armadactl's openIdKubernetesAuth)", () => {
  let dir: string;
  let endpoint: TokenEndpoint;
  let accepted: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "k8s-grant-"));
    endpoint = await startTokenEndpoint({
      clientId: "armada",
      clientSecret: "",
      expiresInSeconds: 100,
      tokenPrefix: "k8s-grant",
      kubernetesAssertions: () => accepted,
    });
  });
  afterAll(async () => {
    await endpoint?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("posts grant_type=kubernetes with the token file's current content, and names only the OAuth error when refused", async () => {
    const assertionFile = join(dir, "token");
    const first = await serviceAccountToken({ sub: "system:serviceaccount:armada:jobservice", expiresInSeconds: 3600 });
    await writeFile(assertionFile, `${first}\n`);
    accepted = [first];
    let now = 1_000_000;
    const authorize = createAuthorization(
      { kind: "oidc-kubernetes", tokenUrl: endpoint.url, clientId: "armada", assertionFile, scopes: ["armada"] },
      { now: () => now },
    );
    expect(await authorize()).toMatch(/^Bearer k8s-grant-\d+$/);
    expect(endpoint.requests().at(-1)).toEqual({ grantType: "kubernetes", clientId: "armada", clientSecret: "", scope: "armada", clientAssertion: first });

    // The kubelet rotated the token: the next grant sends the new one.
    const second = await serviceAccountToken({ sub: "system:serviceaccount:armada:jobservice", expiresInSeconds: 3600 });
    await writeFile(assertionFile, second);
    accepted = [second];
    now += 80_000;
    await authorize();
    expect(endpoint.requests().at(-1)?.clientAssertion).toBe(second);

    accepted = [];
    now += 100_000;
    const err = await failure(authorize());
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(`OIDC token endpoint ${endpoint.url} answered HTTP 400 (invalid_grant)`);
  });
});
