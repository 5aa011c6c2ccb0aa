import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetricsRegistry } from "../../src/observability/metrics.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { JobKey } from "../../src/store/store.js";
import { createSubscriber, type Subscriber } from "../../src/subscriber/index.js";
import { AUTH_DEFAULTS } from "../../src/auth/index.js";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { freePort } from "../support/free-port.js";
import { http1Request } from "../support/http.js";
import { startTestService, type TestService } from "../support/service.js";
import { FAST_LIFECYCLE, testOptions } from "../subscriber/harness.js";
import { authorizationOf, curlAsk, HTTP_STATUS, PROTOCOLS, type Ask, type Presented } from "./callers.js";

const run = promisify(execFile);
const A = "team-a";
const B = "team-b";
const SERVICE: readonly [string, string] = ["jobservice", "svc-Pa55word-never-shown"];
const ALICE: readonly [string, string] = ["alice", "alice-Pa55word-never-shown"];
const BOB_TOKEN = "bob-bearer-token-never-shown";
const CAROL_TOKEN = "carol-token-that-will-expire";
const CACHE_SECONDS = 60;

const credentials = [
  { kind: "basic", user: SERVICE[0], password: SERVICE[1] },
  { kind: "basic", user: ALICE[0], password: ALICE[1], queues: [A] },
  { kind: "basic", user: "dave", password: "dave-pw", queues: [A] },
  { kind: "basic", user: "erin", password: "erin-pw", queues: [A] },
  { kind: "bearer", token: BOB_TOKEN, queues: [B] },
  { kind: "bearer", token: CAROL_TOKEN, queues: [A] },
] as const;

let sim: Simulator;
let subscriber: Subscriber;
let service: TestService;
let offsetMs = 0;
const now = (): number => Date.now() + offsetMs;
const descriptorSet = join(mkdtempSync(join(tmpdir(), "jobservice-auth-")), "jobservice.binpb");
let counter = 0;

/** A job that has finished in Armada, in a job set of its own. */
async function finishedJob(queue: string): Promise<JobKey> {
  const jobSetId = `set-${++counter}`;
  const [jobId] = sim.submit(queue, jobSetId, [{ annotations: { "armada-sim/outcome": "succeeded", "armada-sim/duration-ms": "1" } }]);
  const deadline = Date.now() + 5_000;
  while (!sim.events(queue, jobSetId).some((m) => m.message?.events.case === "succeeded")) {
    if (Date.now() > deadline) throw new Error("the simulator's job did not finish");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { queue, jobSetId, jobId: jobId! };
}

/** GetJobSetEvents calls the simulator saw for a job set, with a given authorization. */
function streamsFor(jobSetId: string, presented: Presented): number {
  const value = authorizationOf(presented) ?? "";
  return sim.calls({ method: "GetJobSetEvents" }).filter((c) => c.jobSetId === jobSetId && c.authorization === value).length;
}

/** Permission checks Armada received with these credentials (curl writes the scheme `Basic`, others `basic`). */
function checksBy(presented: Presented): number {
  const scheme = (header: string): string => header.replace(/^basic /i, "basic ");
  const value = scheme(authorizationOf(presented) ?? "");
  return sim.calls({ method: "GetJobSetEvents" }).filter((c) => scheme(c.authorization) === value && c.watch === false).length;
}

beforeAll(async () => {
  await run("npx", ["buf", "build", "-o", descriptorSet]);
  sim = await startSimulator({ queues: [A, B], lifecycle: FAST_LIFECYCLE, credentials });
  const store = createMemoryStore({ ttlSeconds: 600 });
  subscriber = createSubscriber(testOptions(sim.url, { credentials: { kind: "basic", username: SERVICE[0], password: SERVICE[1] } }), {
    store,
    logger: pino({ level: "silent" }),
    metrics: createMetricsRegistry({ processMetrics: false }),
  });
  service = await startTestService({
    store,
    status: subscriber,
    armadaUrl: sim.url,
    auth: { ...AUTH_DEFAULTS, mode: "armada", cacheSeconds: CACHE_SECONDS },
    now,
    jobSets: () => subscriber.jobSets(),
  });
});
afterAll(async () => {
  await service?.stop();
  await subscriber?.close();
  await sim?.close();
});

describe.each(Object.entries(PROTOCOLS))(
  "armada mode over %s",
  (_name, makeAsk) => {
    let ask: Ask;
    beforeAll(() => {
      ask = makeAsk(descriptorSet);
    });

    it("answers callers Armada lets watch the queue: basic for one queue, bearer for another", async () => {
      const [a, b] = await Promise.all([finishedJob(A), finishedJob(B)]);
      expect((await ask(service.url, a, { basic: ALICE })).result).toBe("SUCCEEDED");
      expect((await ask(service.url, b, { header: `Bearer ${BOB_TOKEN}` })).result).toBe("SUCCEEDED");
    });

    it("refuses a queue Armada does not let the caller watch with PERMISSION_DENIED, and follows nothing for it", async () => {
      const b = await finishedJob(B);
      const outcome = await ask(service.url, b, { basic: ALICE });
      expect(outcome.result).toBe("PERMISSION_DENIED");
      expect(outcome.message).toBe(`Armada does not let this caller watch queue "${B}"`);
      if (outcome.http !== undefined) expect(outcome.http).toBe(HTTP_STATUS.PERMISSION_DENIED);
      expect(streamsFor(b.jobSetId, { basic: SERVICE })).toBe(0);
      expect(subscriber.follows?.(b)).toBe(false);
    });

    it("refuses a call without credentials with UNAUTHENTICATED, without asking Armada", async () => {
      const a = await finishedJob(A);
      const outcome = await ask(service.url, a, null);
      expect(outcome.result).toBe("UNAUTHENTICATED");
      expect(outcome.message).toMatch(/^authorization required: .*basic <base64\(user:password\)>.*Bearer <token>/);
      if (outcome.http !== undefined) expect(outcome.http).toBe(HTTP_STATUS.UNAUTHENTICATED);
      expect(sim.calls({ method: "GetJobSetEvents" }).filter((c) => c.jobSetId === a.jobSetId)).toEqual([]);
    });

    it("refuses a wrong password and an unknown or expired token with UNAUTHENTICATED, naming neither", async () => {
      const a = await finishedJob(A);
      const wrong = await ask(service.url, a, { basic: [ALICE[0], `${ALICE[1]}-typo`] });
      expect(wrong).toMatchObject({ result: "UNAUTHENTICATED", message: "Armada did not accept the caller's credentials" });
      const stale = await ask(service.url, a, { header: "Bearer expired-token-from-yesterday" });
      expect(stale).toMatchObject({ result: "UNAUTHENTICATED", message: "Armada did not accept the caller's credentials" });
      expect(streamsFor(a.jobSetId, { basic: SERVICE })).toBe(0);
    });
    // The grpcio client is one Python process per call: seconds each on a loaded machine.
  },
  90_000,
);

describe("armada mode's decisions", () => {
  it("a poller costs Armada one check per cache period, whatever the job sets in the queue", async () => {
    const dave: Presented = { basic: ["dave", "dave-pw"] };
    const keys = await Promise.all([finishedJob(A), finishedJob(A), finishedJob(A)]);
    for (let poll = 0; poll < 10; poll++) {
      expect((await curlAsk(service.url, keys[poll % keys.length]!, dave)).result).toBe("SUCCEEDED");
    }
    expect(checksBy(dave)).toBe(1);
    offsetMs += CACHE_SECONDS * 1000 + 1;
    expect((await curlAsk(service.url, keys[0]!, dave)).result).toBe("SUCCEEDED");
    expect(checksBy(dave)).toBe(2);
  });

  it("concurrent first calls share one check, and a burst of a bad credential is one call to Armada", async () => {
    const ask = PROTOCOLS["gRPC (connect-node)"]!("");
    const a = await finishedJob(A);
    const erin: Presented = { basic: ["erin", "erin-pw"] };
    const answers = await Promise.all(Array.from({ length: 20 }, () => ask(service.url, a, erin)));
    expect(answers.map((o) => o.result)).toEqual(Array(20).fill("SUCCEEDED"));
    expect(checksBy(erin)).toBe(1);

    const bad: Presented = { basic: ["erin", "guess-1"] };
    const refusals = await Promise.all(Array.from({ length: 20 }, () => ask(service.url, a, bad)));
    for (let i = 0; i < 10; i++) refusals.push(await ask(service.url, a, bad));
    expect(new Set(refusals.map((o) => o.result))).toEqual(new Set(["UNAUTHENTICATED"]));
    expect(checksBy(bad)).toBe(1);
    offsetMs += 5_001;
    expect((await ask(service.url, a, bad)).result).toBe("UNAUTHENTICATED");
    expect(checksBy(bad)).toBe(2);
  });

  it("a token Armada stops accepting (expired, revoked) is refused once its cached decision ends", async () => {
    const ask = PROTOCOLS["gRPC (connect-node)"]!("");
    const a = await finishedJob(A);
    const carol: Presented = { header: `Bearer ${CAROL_TOKEN}` };
    expect((await ask(service.url, a, carol)).result).toBe("SUCCEEDED");
    sim.faults.requireAuth(credentials.filter((c) => !("token" in c && c.token === CAROL_TOKEN)));
    try {
      expect((await ask(service.url, a, carol)).result).toBe("SUCCEEDED");
      offsetMs += CACHE_SECONDS * 1000 + 1;
      expect(await ask(service.url, a, carol)).toMatchObject({ result: "UNAUTHENTICATED", message: "Armada did not accept the caller's credentials" });
    } finally {
      sim.faults.requireAuth(credentials);
    }
  });

  it("probes and health need no credentials", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics"]) expect((await http1Request(`${service.url}${path}`)).status).toBe(200);
    const health = await http1Request(`${service.url}/jobservice.JobService/Health`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(health.status).toBe(200);
    const grpcHealth = await http1Request(`${service.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(JSON.parse(grpcHealth.body)).toEqual({ status: "SERVING" });
  });

  it("counts decisions and Armada's checks in /metrics, without any credential in them", async () => {
    const text = (await http1Request(`${service.url}/metrics`)).body;
    expect(text).toMatch(/jobservice_auth_decisions_total\{outcome="allowed"\} [1-9]/);
    expect(text).toMatch(/jobservice_auth_decisions_total\{outcome="permission_denied"\} [1-9]/);
    expect(text).toMatch(/jobservice_auth_armada_checks_total\{verdict="unauthenticated"\} [1-9]/);
    for (const secret of [SERVICE[1], ALICE[1], BOB_TOKEN, CAROL_TOKEN, "dave-pw", "erin-pw"]) expect(text).not.toContain(secret);
  });
});

describe("armada mode without Armada, and its limits", () => {
  it("answers UNAVAILABLE when Armada cannot be asked: never lets the call through", async () => {
    const dead = await startTestService({ armadaUrl: `http://127.0.0.1:${await freePort()}`, auth: { ...AUTH_DEFAULTS, mode: "armada" } });
    try {
      const ask = PROTOCOLS["Connect binary (connect-node)"]!("");
      const outcome = await ask(dead.url, { queue: A, jobSetId: "s", jobId: "j" }, { basic: ALICE });
      expect(outcome.result).toBe("UNAVAILABLE");
      expect(outcome.message).toMatch(/^cannot check the caller's permission with Armada/);
      expect(outcome.message).not.toContain(ALICE[1]);
    } finally {
      await dead.stop();
    }
  });

  it("limits the new job sets one caller may make the service follow per minute, and /metrics to a token holder", async () => {
    const store = createMemoryStore({ ttlSeconds: 600 });
    const follower = createSubscriber(testOptions(sim.url, { credentials: { kind: "basic", username: SERVICE[0], password: SERVICE[1] } }), {
      store,
      logger: pino({ level: "silent" }),
      metrics: createMetricsRegistry({ processMetrics: false }),
    });
    const limited = await startTestService({
      store,
      status: follower,
      armadaUrl: sim.url,
      auth: { ...AUTH_DEFAULTS, mode: "armada", maxNewSubscriptionsPerMinute: 3, metricsToken: "scrape-token-never-shown" },
    });
    try {
      const ask = PROTOCOLS["gRPC (connect-node)"]!("");
      const keys = await Promise.all([finishedJob(A), finishedJob(A), finishedJob(A), finishedJob(A)]);
      for (const key of keys.slice(0, 3)) expect((await ask(limited.url, key, { basic: ALICE })).result).toBe("SUCCEEDED");
      const fourth = await ask(limited.url, keys[3]!, { basic: ALICE });
      expect(fourth.result).toBe("RESOURCE_EXHAUSTED");
      expect(follower.follows?.(keys[3]!)).toBe(false);
      // Job sets already followed cost nothing; another caller has its own allowance.
      expect((await ask(limited.url, keys[0]!, { basic: ALICE })).result).toBe("SUCCEEDED");
      expect((await ask(limited.url, await finishedJob(B), { header: `Bearer ${BOB_TOKEN}` })).result).toBe("SUCCEEDED");

      expect((await http1Request(`${limited.url}/metrics`)).status).toBe(401);
      expect((await http1Request(`${limited.url}/metrics`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
      expect((await http1Request(`${limited.url}/metrics`, { headers: { authorization: "Bearer scrape-token-never-shown" } })).status).toBe(200);
      expect((await http1Request(`${limited.url}/healthz`)).status).toBe(200);
    } finally {
      await limited.stop();
      await follower.close();
    }
  });
});

describe("the status page in armada mode", () => {
  it("shows a viewer only the job sets of queues Armada lets them watch, and anonymous viewers counts only", async () => {
    const ask = PROTOCOLS["gRPC (connect-node)"]!("");
    const [a, b] = await Promise.all([finishedJob(A), finishedJob(B)]);
    expect((await ask(service.url, a, { basic: ALICE })).result).toBe("SUCCEEDED");
    expect((await ask(service.url, b, { header: `Bearer ${BOB_TOKEN}` })).result).toBe("SUCCEEDED");
    const page = async (headers: Record<string, string> = {}): Promise<string> => {
      const response = await http1Request(`${service.url}/`, { headers });
      expect(response.status).toBe(200);
      return response.body;
    };
    const alice = `basic ${Buffer.from(ALICE.join(":")).toString("base64")}`;

    const anonymous = await page();
    expect(anonymous).not.toContain(a.jobSetId);
    expect(anonymous).not.toContain(b.jobSetId);
    const asAlice = await page({ authorization: alice });
    expect(asAlice).toContain(a.jobSetId);
    expect(asAlice).not.toContain(b.jobSetId);
    const asBob = await page({ authorization: `Bearer ${BOB_TOKEN}` });
    expect(asBob).toContain(b.jobSetId);
    expect(asBob).not.toContain(a.jobSetId);
    const wrong = await page({ authorization: `basic ${Buffer.from(`${ALICE[0]}:wrong`).toString("base64")}` });
    expect(wrong).not.toContain(a.jobSetId);
  });
});

describe("the caller check on the RPCs beyond v1", () => {
  const client = (authorization: string) =>
    createClient(
      JobService,
      createGrpcTransport({
        baseUrl: service.url,
        interceptors: [
          (next) => (request) => {
            request.header.set("authorization", authorization);
            return next(request);
          },
        ],
      }),
    );
  const alice = `basic ${Buffer.from(ALICE.join(":")).toString("base64")}`;

  async function firstOfWatch(authorization: string, key: JobKey): Promise<string> {
    try {
      for await (const answer of client(authorization).watchJobStatus(key, { timeoutMs: 5_000 })) return State[answer.state] ?? "";
      return "ended";
    } catch (error) {
      return Code[ConnectError.from(error).code] ?? "";
    }
  }

  it("applies to batch reads, details and both watches as to GetJobStatus", async () => {
    const [a, b] = await Promise.all([finishedJob(A), finishedJob(B)]);
    const code = async (call: () => Promise<unknown>): Promise<string> => {
      try {
        await call();
        return "OK";
      } catch (error) {
        return Code[ConnectError.from(error).code] ?? "";
      }
    };
    const batch = (key: JobKey) => ({ queue: key.queue, jobSetId: key.jobSetId, jobIds: [key.jobId] });
    expect(await code(() => client(alice).getJobStatuses(batch(a)))).toBe("OK");
    expect(await code(() => client(alice).getJobStatuses(batch(b)))).toBe("PermissionDenied");
    expect(await code(() => client(alice).getJobDetails(a))).toBe("OK");
    expect(await code(() => client(alice).getJobDetails(b))).toBe("PermissionDenied");
    expect(await code(() => client("basic bm9ib2R5Om5vcGU=").getJobDetails(a))).toBe("Unauthenticated");
    expect(await firstOfWatch(alice, a)).toBe("SUCCEEDED");
    expect(await firstOfWatch(alice, b)).toBe("PermissionDenied");
    const setWatch = async (key: JobKey): Promise<string> => {
      try {
        for await (const change of client(alice).watchJobSet({ queue: key.queue, jobSetId: key.jobSetId }, { timeoutMs: 5_000 })) return change.jobId;
        return "ended";
      } catch (error) {
        return Code[ConnectError.from(error).code] ?? "";
      }
    };
    expect(await setWatch(a)).toBe(a.jobId);
    expect(await setWatch(b)).toBe("PermissionDenied");
    expect(streamsFor(b.jobSetId, { basic: ALICE })).toBe(0);
  });
});
