import { spawn, type ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import bcrypt from "bcryptjs";
import { build } from "esbuild";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HealthCheckResponse_ServingStatus as Serving,
  JobDetails_State as Fine,
  JobService,
  JobServiceResponse_State as State,
} from "../../src/gen/jobservice/jobservice_pb.js";
import { createMetricsRegistry } from "../../src/observability/metrics.js";
import { startService, type RunningService } from "../../src/cli/job-service.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { createUpstashStore } from "../../src/store/upstash.js";
import { createSubscriber, type Subscriber } from "../../src/subscriber/index.js";
import { eventually, FAST_LIFECYCLE, LONG_RUN, testOptions } from "../subscriber/harness.js";
import { freePort } from "../support/free-port.js";
import { startOidcIssuer, type OidcIssuer } from "../support/oidc-issuer.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { startUpstashGateway, type UpstashGateway } from "../support/upstash-gateway.js";

const run = promisify(execFile);
const QUEUE = "edge";
const JOB_SET = "dag-run-1";
const TOKEN = "edge-test-token";
const dir = mkdtempSync(join(tmpdir(), "jobservice-edge-"));

let redis: RedisServer;
let gateway: UpstashGateway;
let sim: Simulator;
let subscriber: Subscriber;
let full: RunningService;
let fullClient: Client<typeof JobService>;
let issuer: OidcIssuer;
const jobs: Record<"done" | "failed" | "running", string> = { done: "", failed: "", running: "" };

/** The read path bundled for a fetch runtime; the build fails if anything in it needs a Node module. */
async function bundleEdge(): Promise<string> {
  const outfile = join(dir, "worker.mjs");
  await build({ entryPoints: ["src/edge/worker.ts"], bundle: true, platform: "browser", format: "esm", outfile, logLevel: "silent" });
  return outfile;
}

beforeAll(async () => {
  redis = await startRedisServer();
  gateway = await startUpstashGateway({ redisUrl: redis.url, token: TOKEN });
  sim = await startSimulator({ queues: [QUEUE], lifecycle: FAST_LIFECYCLE });
  // The full service: follows Armada and keeps the Upstash store current.
  const store = createUpstashStore({ url: gateway.url, token: TOKEN, ttlSeconds: 600 });
  const logger = pino({ level: "silent" });
  const metrics = createMetricsRegistry({ processMetrics: false });
  subscriber = createSubscriber(testOptions(sim.url), { store, logger, metrics });
  full = await startService({ host: "127.0.0.1", port: 0, maxRequestBytes: 65_536, shutdownGraceSeconds: 0 }, { store, logger, metrics, status: subscriber });
  fullClient = createClient(JobService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${full.listener.port}` }));
  [jobs.done, jobs.failed, jobs.running] = sim.submit(QUEUE, JOB_SET, [
    { annotations: { "armada-sim/duration-ms": "10" } },
    { annotations: { "armada-sim/duration-ms": "10", "armada-sim/exit-code": "137" } },
    LONG_RUN,
  ]) as [string, string, string];
  const settled = async () => (await fullClient.getJobStatuses({ queue: QUEUE, jobSetId: JOB_SET, jobIds: Object.values(jobs) })).statuses;
  await eventually(
    settled,
    (s) => s[jobs.done]?.state === State.SUCCEEDED && s[jobs.failed]?.state === State.FAILED && s[jobs.running]?.state === State.RUNNING,
  );
  issuer = await startOidcIssuer({ audience: "jobservice-edge" });
}, 30_000);

afterAll(async () => {
  await issuer?.stop();
  await full?.stop();
  await subscriber?.close();
  await sim?.close();
  await gateway?.stop();
  await redis?.stop();
});

interface Runtime {
  readonly url: string;
  stop(): Promise<void>;
}

/** Settings beyond the store's, e.g. JOBSERVICE_AUTH and its companions. */
type Settings = Readonly<Record<string, string>>;

async function serveUntilUp(command: string, args: readonly string[], port: number, settings: Settings): Promise<Runtime> {
  const env = { ...process.env, UPSTASH_REDIS_REST_URL: gateway.url, UPSTASH_REDIS_REST_TOKEN: TOKEN, DENO_DIR: join(dir, "deno"), NO_COLOR: "1", ...settings };
  // Its own process group: npx starts the runtime as a child of its own, and stopping must end both.
  const child: ChildProcess = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    () =>
      fetch(`${url}/healthz`).then(
        (r) => r.status,
        () => 0,
      ),
    (status) => status === 200 || child.exitCode !== null,
    15_000,
    100,
  );
  if (child.exitCode !== null) throw new Error(`${command} exited: ${output}`);
  return {
    url,
    stop: async () => {
      const exited = child.exitCode === null ? new Promise((resolve) => child.once("exit", resolve)) : undefined;
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        // The group is gone already.
      }
      await exited;
    },
  };
}

const runtimes: Record<string, (bundle: string, settings?: Settings) => Promise<Runtime>> = {
  "Deno (deno serve)": async (bundle, settings = {}) => {
    const port = await freePort();
    return serveUntilUp("npx", ["deno", "serve", "--host", "127.0.0.1", "--port", String(port), "--allow-net", "--allow-env", bundle], port, settings);
  },
  "Bun (Bun.serve)": async (bundle, settings = {}) => {
    const port = await freePort();
    const runner = join(dir, `bun-${port}.mjs`);
    writeFileSync(
      runner,
      `import worker from ${JSON.stringify(bundle)};\nBun.serve({ hostname: "127.0.0.1", port: ${port}, fetch: (request) => worker.fetch(request) });\n`,
    );
    return serveUntilUp("npx", ["bun", runner], port, settings);
  },
};

describe.each(Object.entries(runtimes))("the edge entry under %s", (_name, start) => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await start(await bundleEdge());
  }, 30_000);
  afterAll(() => runtime?.stop());

  const protocols: Record<string, () => Transport> = {
    "Connect JSON": () => createConnectTransport({ baseUrl: runtime.url, httpVersion: "1.1" }),
    "Connect binary": () => createConnectTransport({ baseUrl: runtime.url, httpVersion: "1.1", useBinaryFormat: true }),
    "Connect JSON by GET": () => createConnectTransport({ baseUrl: runtime.url, httpVersion: "1.1", useHttpGet: true }),
    "gRPC-Web": () => createGrpcWebTransport({ baseUrl: runtime.url, httpVersion: "1.1" }),
  };

  it.each(Object.keys(protocols))("answers every read RPC over %s exactly as the full service does", async (protocol) => {
    const edge = createClient(JobService, protocols[protocol]!());
    for (const jobId of [...Object.values(jobs), "nope"]) {
      const key = { queue: QUEUE, jobSetId: JOB_SET, jobId };
      expect(await edge.getJobStatus(key)).toEqual(await fullClient.getJobStatus(key));
      const [edgeDetails, fullDetails] = await Promise.all([edge.getJobDetails(key), fullClient.getJobDetails(key)]);
      // When the store was last written may move between the two reads (a quiet stream reopened and wrote its progress).
      expect(edgeDetails.freshness?.lastHeardAt).toBeDefined();
      expect({ ...edgeDetails, freshness: { ...edgeDetails.freshness, lastHeardAt: undefined } }).toEqual({
        ...fullDetails,
        freshness: { ...fullDetails.freshness, lastHeardAt: undefined },
      });
    }
    const batch = { queue: QUEUE, jobSetId: JOB_SET, jobIds: [...Object.values(jobs), "nope", jobs.done] };
    expect(await edge.getJobStatuses(batch)).toEqual(await fullClient.getJobStatuses(batch));
    expect((await edge.getJobDetails({ queue: QUEUE, jobSetId: JOB_SET, jobId: jobs.failed })).state).toBe(Fine.FAILED);
    expect((await edge.health(create(EmptySchema))).status).toBe(Serving.SERVING);
  });

  it("serves GET with Cache-Control that matches the answer", async () => {
    const get = async (jobId: string) => {
      const message = encodeURIComponent(JSON.stringify({ queue: QUEUE, jobSetId: JOB_SET, jobId }));
      const { stdout } = await run("curl", [
        "-s",
        "-i",
        "--max-time",
        "10",
        `${runtime.url}/jobservice.JobService/GetJobStatus?encoding=json&message=${message}`,
      ]);
      return stdout.toLowerCase();
    };
    expect(await get(jobs.done)).toMatch(/cache-control: max-age=31536000, immutable/);
    expect(await get(jobs.running)).toMatch(/cache-control: max-age=1\r\n/);
    expect(await get("nope")).toMatch(/cache-control: no-store/);
  });

  it("says CONNECTION_ERR, not JOB_ID_NOT_FOUND, for a job set no full service follows", async () => {
    const edge = createClient(JobService, protocols["Connect JSON"]!());
    const answer = await edge.getJobStatus({ queue: QUEUE, jobSetId: "never-asked", jobId: "j" });
    expect(answer.state).toBe(State.CONNECTION_ERR);
    expect(answer.error).toMatch(/^no job service follows this job set yet/);
  });

  it("refuses what it cannot serve: watches UNIMPLEMENTED, native gRPC, bad batches", async () => {
    const edge = createClient(JobService, protocols["Connect JSON"]!());
    const watch = await (async () => {
      for await (const _ of edge.watchJobStatus({ queue: QUEUE, jobSetId: JOB_SET, jobId: jobs.done })) return "streamed";
      return "ended";
    })().catch((e: unknown) => ConnectError.from(e));
    expect((watch as ConnectError).code).toBe(Code.Unimplemented);
    const tooMany = await edge
      .getJobStatuses({ queue: QUEUE, jobSetId: JOB_SET, jobIds: Array.from({ length: 1001 }, (_, i) => `j${i}`) })
      .catch((e: unknown) => ConnectError.from(e));
    expect((tooMany as ConnectError).code).toBe(Code.InvalidArgument);
    const grpc = createClient(JobService, createGrpcTransport({ baseUrl: runtime.url }));
    await expect(grpc.getJobStatus({ queue: QUEUE, jobSetId: JOB_SET, jobId: jobs.done }, { timeoutMs: 5_000 })).rejects.toThrow();
  });
});

const PASSWORD = "edge-alice-pw-S3CRET";
const PERMISSIONS = `users:\n  alice: [${QUEUE}]\n`;

/** Each mode of caller security, with the settings the worker reads and the credentials of a good and of a bad caller. */
const modes: Record<string, { settings: () => Settings; good: () => Promise<string>; bad: () => Promise<string> }> = {
  "JOBSERVICE_AUTH=basic": {
    settings: () => ({
      JOBSERVICE_AUTH: "basic",
      JOBSERVICE_EDGE_USERS: `alice:${bcrypt.hashSync(PASSWORD, 4)}\n`,
      JOBSERVICE_EDGE_PERMISSIONS: PERMISSIONS,
    }),
    good: async () => `basic ${btoa(`alice:${PASSWORD}`)}`,
    bad: async () => `basic ${btoa("alice:wrong-pw-S3CRET")}`,
  },
  "JOBSERVICE_AUTH=oidc": {
    settings: () => ({
      JOBSERVICE_AUTH: "oidc",
      JOBSERVICE_OIDC_ISSUER: issuer.issuer,
      JOBSERVICE_OIDC_AUDIENCE: "jobservice-edge",
      JOBSERVICE_EDGE_PERMISSIONS: PERMISSIONS,
    }),
    good: async () => `Bearer ${await issuer.token("alice")}`,
    bad: async () => `Bearer ${await issuer.token("alice", {}, { unpublishedKey: true })}`,
  },
};

describe.each(Object.entries(runtimes).flatMap(([runtime, start]) => Object.entries(modes).map(([mode, how]) => [runtime, mode, start, how] as const)))(
  "the edge entry under %s with %s",
  (_runtime, _mode, start, how) => {
    let runtime: Runtime;
    beforeAll(async () => {
      runtime = await start(await bundleEdge(), how.settings());
    }, 30_000);
    afterAll(() => runtime?.stop());

    const edge = () => createClient(JobService, createConnectTransport({ baseUrl: runtime.url, httpVersion: "1.1" }));
    // The jobs exist once beforeAll has run.
    const key = () => ({ queue: QUEUE, jobSetId: JOB_SET, jobId: jobs.done });
    const refusal = (call: Promise<unknown>) =>
      call.then(
        () => undefined,
        (error: unknown) => ConnectError.from(error),
      );

    it("answers an allowed caller exactly as the full service does, and Health without credentials", async () => {
      const headers = { authorization: await how.good() };
      expect(await edge().getJobStatus(key(), { headers })).toEqual(await fullClient.getJobStatus(key()));
      const batch = { queue: QUEUE, jobSetId: JOB_SET, jobIds: Object.values(jobs) };
      expect(await edge().getJobStatuses(batch, { headers })).toEqual(await fullClient.getJobStatuses(batch));
      expect((await edge().health(create(EmptySchema))).status).toBe(Serving.SERVING);
    });

    it("refuses no credentials and bad ones with UNAUTHENTICATED, another queue with PERMISSION_DENIED, and repeats no secret", async () => {
      const bad = await how.bad();
      const refusals = [
        await refusal(edge().getJobStatus(key())),
        await refusal(edge().getJobDetails(key(), { headers: { authorization: bad } })),
        await refusal(edge().getJobStatus({ ...key(), queue: "not-granted" }, { headers: { authorization: await how.good() } })),
      ];
      expect(refusals.map((e) => e?.code)).toEqual([Code.Unauthenticated, Code.Unauthenticated, Code.PermissionDenied]);
      const said = refusals.map((e) => e?.rawMessage ?? "").join("\n");
      for (const secret of [PASSWORD, "S3CRET", bad.replace(/^\S+ /, "")]) expect(said).not.toContain(secret);
    });
  },
);
