import { Code, ConnectError } from "@connectrpc/connect";
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEdgeHandler, type EdgeCall } from "../../src/edge/app.js";
import { edgeCallerCheck } from "../../src/edge/caller-check.js";
import { createMemoryStore } from "../../src/store/memory.js";
import { jobRecord, seedJobs, State } from "../support/jobs.js";
import { startOidcIssuer, type OidcIssuer } from "../support/oidc-issuer.js";

/** A Connect JSON call straight into the fetch handler. */
async function call(handler: { fetch(r: Request): Promise<Response> }, method: string, body: object, header: Record<string, string> = {}) {
  const response = await handler.fetch(
    new Request(`http://edge.test/jobservice.JobService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...header },
      body: JSON.stringify(body),
    }),
  );
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("the edge entry's caller security hook", () => {
  it("is asked for every call with the method, the request's queue and the headers, and can refuse", async () => {
    const store = createMemoryStore({ ttlSeconds: 60 });
    await seedJobs(store, { queue: "open", jobSetId: "s" }, { j: jobRecord(State.RUNNING) });
    const asked: EdgeCall[] = [];
    const handler = createEdgeHandler({
      store,
      authorize(edgeCall) {
        asked.push(edgeCall);
        if (edgeCall.queue === "secret") throw new ConnectError(`may not read queue ${edgeCall.queue}`, Code.PermissionDenied);
      },
    });
    expect(await call(handler, "GetJobStatus", { queue: "open", jobSetId: "s", jobId: "j" }, { authorization: "Bearer t" })).toEqual({
      status: 200,
      body: { state: "RUNNING" },
    });
    expect(await call(handler, "GetJobStatuses", { queue: "secret", jobSetId: "s", jobIds: ["j"] })).toEqual({
      status: 403,
      body: { code: "permission_denied", message: "may not read queue secret" },
    });
    expect((await call(handler, "Health", {})).status).toBe(200);
    expect(asked.map((c) => [c.method, c.queue])).toEqual([
      ["GetJobStatus", "open"],
      ["GetJobStatuses", "secret"],
      ["Health", ""],
    ]);
    expect(asked[0]?.header.get("authorization")).toBe("Bearer t");
    await store.close();
  });

  it("says a job set its owner stopped updating is no longer followed", async () => {
    const store = createMemoryStore({ ttlSeconds: 600 });
    const jobSet = { queue: "q", jobSetId: "s" };
    await seedJobs(store, jobSet, { busy: jobRecord(State.RUNNING), done: jobRecord(State.SUCCEEDED) });
    const later = createEdgeHandler({ store, staleAfterMs: 60_000, now: () => Date.now() + 120_000 });
    const reply = await call(later, "GetJobStatuses", { ...jobSet, jobIds: ["busy", "done"] });
    expect(reply.body).toMatchObject({ statuses: { busy: { state: "CONNECTION_ERR" }, done: { state: "SUCCEEDED" } } });
    expect(JSON.stringify(reply.body)).toMatch(/has not updated this job set for 120 s/);
    await store.close();
  });
});

const SECRET_PASSWORD = "alice-pw-S3CRET";
const WRONG_PASSWORD = "guessed-pw-S3CRET";
/** htpasswd -B writes `$2y$`; bcryptjs writes `$2b$`: the same algorithm. */
const htpasswd = (password: string): string => bcrypt.hashSync(password, 4).replace(/^\$2b\$/, "$2y$");
const basicHeader = (user: string, password: string) => ({ authorization: `basic ${btoa(`${user}:${password}`)}` });
const PERMISSIONS = ["users:", "  alice: [team-a]", "groups:", '  data-eng: ["etl-*"]', ""].join("\n");

/** An edge handler built from settings as worker.ts builds it, over a memory store with one finished job in each queue. */
async function securedEdge(vars: Record<string, string>) {
  const store = createMemoryStore({ ttlSeconds: 60 });
  for (const queue of ["team-a", "team-b", "etl-x"]) await seedJobs(store, { queue, jobSetId: "s" }, { j: jobRecord(State.SUCCEEDED) });
  const callerCheck = edgeCallerCheck(vars);
  return { store, handler: createEdgeHandler({ store, ...(callerCheck && { callerCheck }) }) };
}

const read = (queue: string) => ({ queue, jobSetId: "s", jobId: "j" });

describe("the edge entry's caller security from the service's settings", () => {
  describe("JOBSERVICE_AUTH=basic with the users and permissions in JOBSERVICE_EDGE_USERS and JOBSERVICE_EDGE_PERMISSIONS", () => {
    const vars = {
      JOBSERVICE_AUTH: "basic",
      JOBSERVICE_EDGE_USERS: `# htpasswd -B\nalice:${htpasswd(SECRET_PASSWORD)}\nbob:${htpasswd("bob-pw")}:data-eng\n`,
      JOBSERVICE_EDGE_PERMISSIONS: PERMISSIONS,
    };

    it("lets an allowed caller read, by user and by group, and answers as without security", async () => {
      const { store, handler } = await securedEdge(vars);
      expect(await call(handler, "GetJobStatus", read("team-a"), basicHeader("alice", SECRET_PASSWORD))).toEqual({ status: 200, body: { state: "SUCCEEDED" } });
      expect(await call(handler, "GetJobStatuses", { ...read("etl-x"), jobIds: ["j"] }, basicHeader("bob", "bob-pw"))).toEqual({
        status: 200,
        body: { statuses: { j: { state: "SUCCEEDED" } } },
      });
      await store.close();
    });

    it("refuses a caller without credentials or with a wrong password (UNAUTHENTICATED), and one not allowed on the queue (PERMISSION_DENIED)", async () => {
      const { store, handler } = await securedEdge(vars);
      const refusals = [
        await call(handler, "GetJobStatus", read("team-a")),
        await call(handler, "GetJobDetails", read("team-a"), basicHeader("alice", WRONG_PASSWORD)),
        await call(handler, "GetJobStatus", read("team-a"), basicHeader("mallory", SECRET_PASSWORD)),
        await call(handler, "GetJobStatus", read("team-a"), { authorization: "Bearer not-basic" }),
        await call(handler, "GetJobStatus", read("team-b"), basicHeader("alice", SECRET_PASSWORD)),
      ];
      expect(refusals.map((r) => [r.status, r.body.code])).toEqual([
        [401, "unauthenticated"],
        [401, "unauthenticated"],
        [401, "unauthenticated"],
        [401, "unauthenticated"],
        [403, "permission_denied"],
      ]);
      expect(refusals[4]?.body.message).toBe('"alice" may not watch queue "team-b"');
      const said = JSON.stringify(refusals);
      for (const secret of [SECRET_PASSWORD, WRONG_PASSWORD, btoa(`alice:${WRONG_PASSWORD}`), btoa(`mallory:${SECRET_PASSWORD}`), "not-basic"])
        expect(said).not.toContain(secret);
      await store.close();
    });

    it("checks the caller of a watch before saying the edge has none, and asks nothing of Health", async () => {
      const { store, handler } = await securedEdge(vars);
      const watch = await handler.fetch(
        new Request("http://edge.test/jobservice.JobService/WatchJobStatus", {
          method: "POST",
          headers: { "content-type": "application/connect+json" },
          body: envelope(read("team-a")),
        }),
      );
      expect(await watch.text()).toContain('"code":"unauthenticated"');
      expect(await call(handler, "Health", {})).toEqual({ status: 200, body: { status: "SERVING" } });
      await store.close();
    });
  });

  describe("JOBSERVICE_AUTH=oidc with the service's JOBSERVICE_OIDC_* settings", () => {
    let issuer: OidcIssuer;
    beforeAll(async () => {
      issuer = await startOidcIssuer({ audience: "jobservice" });
    });
    afterAll(() => issuer?.stop());
    const vars = () => ({
      JOBSERVICE_AUTH: "oidc",
      JOBSERVICE_OIDC_ISSUER: issuer.issuer,
      JOBSERVICE_OIDC_AUDIENCE: "jobservice",
      JOBSERVICE_EDGE_PERMISSIONS: PERMISSIONS,
    });
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    it("lets a caller with a valid token read what the permissions allow it, by subject and by the groups claim", async () => {
      const { store, handler } = await securedEdge(vars());
      expect(await call(handler, "GetJobStatus", read("team-a"), bearer(await issuer.token("alice")))).toEqual({ status: 200, body: { state: "SUCCEEDED" } });
      expect((await call(handler, "GetJobStatus", read("etl-x"), bearer(await issuer.token("svc", { groups: ["data-eng"] })))).status).toBe(200);
      await store.close();
    });

    it("refuses no token, an invalid, expired, forged or foreign-key token (UNAUTHENTICATED), and a queue not granted (PERMISSION_DENIED)", async () => {
      const { store, handler } = await securedEdge(vars());
      const tokens = [
        "not-a-jwt-S3CRET",
        await issuer.token("alice", {}, { expiresIn: -600 }),
        await issuer.token("alice", {}, { unpublishedKey: true }),
        await issuer.token("alice", {}, { audience: "someone-else" }),
        issuer.unsigned({ sub: "alice" }),
        issuer.hmacWithPublicKey({ sub: "alice" }),
      ];
      const refusals = [
        await call(handler, "GetJobStatus", read("team-a")),
        ...(await Promise.all(tokens.map((t) => call(handler, "GetJobStatus", read("team-a"), bearer(t))))),
      ];
      expect(refusals.map((r) => [r.status, r.body.code])).toEqual(refusals.map(() => [401, "unauthenticated"]));
      const denied = await call(handler, "GetJobStatus", read("team-b"), bearer(await issuer.token("alice")));
      expect([denied.status, denied.body.code]).toEqual([403, "permission_denied"]);
      const said = JSON.stringify([...refusals, denied]);
      for (const token of tokens) expect(said).not.toContain(token);
      expect(await call(handler, "Health", {})).toEqual({ status: 200, body: { status: "SERVING" } });
      await store.close();
    });
  });

  describe("its configuration, refused with every problem named and no value repeated", () => {
    const problems = (vars: Record<string, string>): string => {
      try {
        edgeCallerCheck(vars);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error("accepted");
    };

    it("has no caller check by default (none), as before", () => {
      expect(edgeCallerCheck({})).toBeUndefined();
      expect(edgeCallerCheck({ JOBSERVICE_AUTH: "none" })).toBeUndefined();
    });

    it("refuses armada, which needs Armada, naming JOBSERVICE_AUTH", () => {
      expect(problems({ JOBSERVICE_AUTH: "armada" })).toMatch(/JOBSERVICE_AUTH: armada is not available at the edge entry, which cannot reach Armada/);
    });

    it("asks for the files' contents in variables, since the edge has no files", () => {
      const said = problems({ JOBSERVICE_AUTH: "basic", JOBSERVICE_USERS_FILE: "/etc/users", JOBSERVICE_PERMISSIONS_FILE: "/etc/permissions" });
      expect(said).toContain("JOBSERVICE_USERS_FILE: the edge entry reads no files; give the file's contents in JOBSERVICE_EDGE_USERS");
      expect(said).toContain("JOBSERVICE_PERMISSIONS_FILE: the edge entry reads no files; give the file's contents in JOBSERVICE_EDGE_PERMISSIONS");
      expect(said).toContain("JOBSERVICE_EDGE_USERS: required with JOBSERVICE_AUTH basic");
      expect(said).toContain("JOBSERVICE_EDGE_PERMISSIONS: required with JOBSERVICE_AUTH basic");
    });

    it("names the line of a mistake in the users or permissions without repeating a hash", () => {
      const hash = htpasswd("pw");
      const said = problems({
        JOBSERVICE_AUTH: "basic",
        JOBSERVICE_EDGE_USERS: `alice:${hash}\nbob:md5-not-bcrypt-S3CRET\n`,
        JOBSERVICE_EDGE_PERMISSIONS: "users:\n  alice: team-a\n",
      });
      expect(said).toContain('JOBSERVICE_EDGE_USERS line 2: user "bob" has no bcrypt hash');
      expect(said).toContain("JOBSERVICE_EDGE_PERMISSIONS line 2: users.alice must be a list");
      expect(said).not.toContain(hash);
      expect(said).not.toContain("S3CRET");
    });

    it("checks the oidc settings as the service does, and settings of another mode", () => {
      const said = problems({
        JOBSERVICE_AUTH: "oidc",
        JOBSERVICE_OIDC_ALGORITHMS: "HS256",
        JOBSERVICE_EDGE_PERMISSIONS: PERMISSIONS,
        JOBSERVICE_EDGE_USERS: "alice:x",
        JOBSERVICE_AUTH_CACHE_SECONDS: "5",
      });
      expect(said).toContain("JOBSERVICE_OIDC_ISSUER: required with JOBSERVICE_AUTH oidc");
      expect(said).toContain("JOBSERVICE_OIDC_AUDIENCE: required with JOBSERVICE_AUTH oidc");
      expect(said).toContain("JOBSERVICE_OIDC_ALGORITHMS: expected asymmetric JWS algorithms");
      expect(said).toContain("JOBSERVICE_EDGE_USERS: only used with JOBSERVICE_AUTH basic, not oidc");
      expect(said).toContain("JOBSERVICE_AUTH_CACHE_SECONDS: only used with JOBSERVICE_AUTH basic, not oidc");
      expect(problems({ JOBSERVICE_AUTH: "kerberos" })).toContain('JOBSERVICE_AUTH: expected one of none, armada, oidc, basic, got "kerberos"');
    });
  });
});

/** A Connect streaming request: one enveloped JSON message. */
function envelope(message: object): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(message));
  const framed = new Uint8Array(5 + json.length);
  new DataView(framed.buffer).setUint32(1, json.length);
  framed.set(json, 5);
  return framed;
}
