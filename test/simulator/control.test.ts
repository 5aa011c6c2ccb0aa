import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EventMessageSchema } from "../../src/gen/api/event_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { http2Request } from "../support/http.js";
import { armadaStyleKubernetesAuth, serviceAccountToken, TEST_CLUSTER_CA } from "../support/service-account.js";
import { armadaClients, queuedEvent, basicAuth, caseOf, eventually, readStream, type ArmadaClients } from "../support/simulator.js";

const run = promisify(execFile);

describe("HTTP control surface on the gRPC port", () => {
  let sim: Simulator;
  let clients: ArmadaClients;

  beforeAll(async () => {
    sim = await startSimulator({ queues: ["q"] });
    clients = armadaClients(sim.url);
    sim.appendEvents("q", "s", [queuedEvent("a")]);
  });
  afterEach(() => sim.faults.reset());
  afterAll(() => sim.close());

  const control = async (method: string, path: string, body?: unknown) => {
    const headers = { ":method": method, ":path": path, "content-type": "application/json" };
    const response = await http2Request(sim.url, headers, body === undefined ? undefined : JSON.stringify(body));
    return { status: response.status, json: JSON.parse(response.body) as Record<string, unknown> };
  };
  const readAll = () => readStream((signal) => clients.events.getJobSetEvents({ queue: "q", id: "s" }, { signal }));

  it("shows the fault state, queues and counts", async () => {
    const { status, json } = await control("GET", "/control");
    expect(status).toBe(200);
    expect(json).toMatchObject({ faults: { latencyMs: 0, stalledUntil: 0, refusals: [], authRequired: false, openStreams: 0 }, queues: ["q"] });
  });

  it("refuses calls with a code given by name or number", async () => {
    expect((await control("POST", "/control/refuse", { count: 1, code: "unavailable", method: "GetJobSetEvents" })).status).toBe(200);
    await expect(readAll()).rejects.toMatchObject({ code: Code.Unavailable });
    await control("POST", "/control/refuse", { count: 1, code: 8 });
    await expect(clients.events.health({})).rejects.toMatchObject({ code: Code.ResourceExhausted });
    expect((await readAll()).ended).toBe(true);
  });

  it("drops open streams and reports how many", async () => {
    const stream = clients.events.getJobSetEvents({ queue: "q", id: "s", watch: true })[Symbol.asyncIterator]();
    await stream.next();
    await eventually(() => sim.openStreams() === 1);
    expect((await control("GET", "/control/streams?jobSetId=s")).json).toEqual({ open: 1 });
    expect((await control("POST", "/control/drop-streams", {})).json).toEqual({ dropped: 1 });
    await expect(stream.next()).rejects.toMatchObject({ code: Code.Unavailable });
  });

  it("cuts every other connection but answers its own caller", async () => {
    const stream = clients.events.getJobSetEvents({ queue: "q", id: "s", watch: true })[Symbol.asyncIterator]();
    await stream.next();
    const { status, json } = await control("POST", "/control/disconnect");
    expect(status).toBe(200);
    expect(json.connections).toBeGreaterThanOrEqual(1);
    await expect(stream.next()).rejects.toBeInstanceOf(Error);
  });

  it("turns auth on and off", async () => {
    await control("PUT", "/control/auth", { credentials: [{ user: "u", password: "p", queues: ["other"] }, { token: "t" }] });
    await expect(clients.events.health({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    await expect(
      readStream((signal) => armadaClients(sim.url, basicAuth("u", "p")).events.getJobSetEvents({ queue: "q", id: "s" }, { signal })),
    ).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    expect((await armadaClients(sim.url, "bearer t").events.health({})).status).toBe(1);
    await control("DELETE", "/control/auth");
    expect((await clients.events.health({})).status).toBe(1);
  });

  it("accepts Kubernetes native auth as Armada reads it: that token, unexpired, with that CA", async () => {
    const sub = "system:serviceaccount:armada:jobservice";
    const token = await serviceAccountToken({ sub, expiresInSeconds: 600 });
    const expired = await serviceAccountToken({ sub, expiresInSeconds: -60 });
    await control("PUT", "/control/auth", { credentials: [{ kubernetesToken: token, ca: TEST_CLUSTER_CA, queues: ["q"] }, { kubernetesToken: expired }] });
    const as = (header: string) => armadaClients(sim.url, header).events;
    expect((await as(armadaStyleKubernetesAuth(token, TEST_CLUSTER_CA)).health({})).status).toBe(1);
    const calls = (await control("GET", "/control/calls?method=Health")).json.calls as Array<Record<string, unknown>>;
    expect(calls.at(-1)).toMatchObject({ result: "ok" });

    const refused = async (header: string) =>
      (
        await as(header)
          .health({})
          .then(
            () => undefined,
            (err: Error) => err,
          )
      )?.message;
    expect(await refused(armadaStyleKubernetesAuth(expired, TEST_CLUSTER_CA))).toMatch(/the token has expired/);
    expect(await refused(armadaStyleKubernetesAuth(token, "another CA"))).toMatch(/invalid credentials/);
    expect(await refused(armadaStyleKubernetesAuth("not-a-jwt", TEST_CLUSTER_CA))).toMatch(/not a JWT with an expiry/);
    expect(await refused(`KubernetesAuth ${Buffer.from("{").toString("base64url")}`)).toMatch(/not base64url-encoded JSON/);
    expect(await refused(armadaStyleKubernetesAuth(token, TEST_CLUSTER_CA).replace("KubernetesAuth", "kubernetesauth"))).toMatch(
      /unsupported authorization scheme/,
    );
    await control("POST", "/control/queues", { name: "elsewhere" });
    await expect(
      readStream((signal) => as(armadaStyleKubernetesAuth(token, TEST_CLUSTER_CA)).getJobSetEvents({ queue: "elsewhere", id: "s" }, { signal })),
    ).rejects.toMatchObject({ code: Code.PermissionDenied, message: expect.stringContaining(`user "${sub}" lacks permission watch`) });
  });

  it("sets stalls and latency, and reset clears them", async () => {
    expect((await control("POST", "/control/stall", { ms: 60_000 })).json.stalledUntil).toBeGreaterThan(0);
    expect((await control("POST", "/control/latency", { ms: 5 })).json.latencyMs).toBe(5);
    expect((await control("POST", "/control/reset")).json).toMatchObject({ stalledUntil: 0, latencyMs: 0 });
  });

  it("lists recorded calls and jobs, and creates queues", async () => {
    await readAll();
    const calls = (await control("GET", "/control/calls?method=GetJobSetEvents")).json.calls as Array<Record<string, unknown>>;
    expect(calls.at(-1)).toMatchObject({ method: "api.Event/GetJobSetEvents", queue: "q", jobSetId: "s", result: "ok" });
    expect((await control("POST", "/control/queues", { name: "made-over-http" })).status).toBe(201);
    expect(sim.submit("made-over-http", "js", [{}])).toHaveLength(1);
    expect(((await control("GET", "/control/jobs")).json.jobs as unknown[]).length).toBe(1);
  });

  it("appends raw bytes as events, one message each, sent as they are: good bytes decode, bad ones fail the client", async () => {
    const queued = Buffer.from(toBinary(EventMessageSchema, create(EventMessageSchema, queuedEvent("raw-job")))).toString("base64");
    const appended = await control("POST", "/control/raw-events", { queue: "q", jobSetId: "raw", base64: [queued, ""] });
    expect(appended.status).toBe(201);
    const ids = appended.json.ids as string[];
    expect(ids).toHaveLength(2);
    const read = () => readStream((signal) => clients.events.getJobSetEvents({ queue: "q", id: "raw" }, { signal }));
    const { messages } = await read();
    expect(messages.map((m) => [m.id, caseOf(m)])).toEqual([
      [ids[0], "queued"],
      [ids[1], ""],
    ]);
    expect(messages[0]?.message?.events.value?.jobId).toBe("raw-job");

    const truncated = Buffer.of(0x12, 0x80).toString("base64");
    expect((await control("POST", "/control/raw-events", { queue: "q", jobSetId: "raw", base64: [truncated] })).status).toBe(201);
    await expect(read()).rejects.toMatchObject({ code: Code.Internal });
  });

  it("refuses raw events that are not a non-empty list of padded base64 strings, for a job set of a queue that exists", async () => {
    const raw = (body: unknown) => control("POST", "/control/raw-events", body);
    const notAList = { status: 400, json: { error: '"base64" must be a non-empty array of base64 strings' } };
    expect(await raw({ jobSetId: "refused", base64: ["AA=="] })).toEqual({ status: 400, json: { error: '"queue" must be a non-empty string' } });
    expect(await raw({ queue: "q", base64: ["AA=="] })).toEqual({ status: 400, json: { error: '"jobSetId" must be a non-empty string' } });
    expect(await raw({ queue: "q", jobSetId: "refused" })).toEqual(notAList);
    expect(await raw({ queue: "q", jobSetId: "refused", base64: [] })).toEqual(notAList);
    expect(await raw({ queue: "q", jobSetId: "refused", base64: "AA==" })).toEqual(notAList);
    expect(await raw({ queue: "q", jobSetId: "refused", base64: ["AA==", "AA"] })).toEqual({
      status: 400,
      json: { error: "base64[1] must be a padded base64 string" },
    });
    expect(await raw({ queue: "q", jobSetId: "refused", base64: ["not base64!"] })).toEqual({
      status: 400,
      json: { error: "base64[0] must be a padded base64 string" },
    });
    expect(await raw({ queue: "q", jobSetId: "refused", base64: [7] })).toEqual({ status: 400, json: { error: "base64[0] must be a padded base64 string" } });
    expect(await raw({ queue: "nowhere", jobSetId: "refused", base64: ["AA=="] })).toEqual({
      status: 404,
      json: { error: '[appendRawEvents] queue "nowhere" does not exist' },
    });
    expect(sim.events("q", "refused").length).toBe(0);
  });

  it("answers bad requests with 400 and the field at fault", async () => {
    expect(await control("POST", "/control/stall", { ms: "soon" })).toEqual({ status: 400, json: { error: '"ms" must be a non-negative number' } });
    expect((await control("POST", "/control/refuse", { count: 1, code: "nope" })).json.error).toMatch(/"code"/);
    expect((await control("PUT", "/control/auth", { credentials: [{ user: "x" }] })).json.error).toMatch(/credentials\[0\]/);
    expect(await control("POST", "/control/queues", { name: "q" })).toEqual({ status: 409, json: { error: '[CreateQueue] queue "q" already exists' } });
  });

  it("works with curl as the docs show it", async () => {
    const { stdout } = await run("curl", [
      "-sS",
      "--http2-prior-knowledge",
      "-X",
      "POST",
      `${sim.url}/control/refuse`,
      "-H",
      "content-type: application/json",
      "-d",
      '{"count": 2, "code": "unavailable", "method": "GetJobSetEvents"}',
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ refusals: [{ remaining: 2, code: "unavailable", method: "GetJobSetEvents" }] });
  });
});
