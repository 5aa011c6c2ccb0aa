import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health as GrpcHealth, HealthCheckResponse_ServingStatus as GrpcStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { createRedisStore } from "../../src/store/redis.js";
import { createUpstashStore } from "../../src/store/upstash.js";
import type { JobStore } from "../../src/store/store.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { startTestService, type TestService } from "../support/service.js";
import { startUpstashGateway, type UpstashGateway } from "../support/upstash-gateway.js";
import { FAST_LIFECYCLE, LONG_RUN, eventually, startSubscriber, streamCalls, testOptions, uniqueJobSet, type TestSubscriber } from "../subscriber/harness.js";

const QUEUE = "down";
const SHORT_RUN = { annotations: { "armada-sim/duration-ms": "10" } };
const TOKEN = "store-down-token";

interface Running {
  readonly redis: RedisServer;
  readonly gateway?: UpstashGateway;
  readonly subscriber: TestSubscriber;
  readonly service: TestService;
}

describe.each(["redis", "upstash"] as const)("while the %s store is down", (kind) => {
  let sim: Simulator;
  let dataDir: string;
  let running: Running;
  let redis: RedisServer;

  beforeAll(async () => {
    sim = await startSimulator({ queues: [QUEUE], lifecycle: FAST_LIFECYCLE });
    dataDir = mkdtempSync(join(tmpdir(), "store-down-"));
    redis = await startRedisServer({ dataDir });
    const gateway = kind === "upstash" ? await startUpstashGateway({ redisUrl: redis.url, token: TOKEN }) : undefined;
    const open = (): JobStore =>
      gateway ? createUpstashStore({ url: gateway.url, token: TOKEN, ttlSeconds: 600 }) : createRedisStore({ url: redis.url, ttlSeconds: 600 });
    const subscriber = startSubscriber(open(), testOptions(sim.url));
    const service = await startTestService({ store: open(), status: subscriber.subscriber });
    running = { redis, gateway, subscriber, service };
  });
  afterAll(async () => {
    await running?.service.stop();
    await running?.subscriber.close();
    await running?.gateway?.stop();
    await redis?.stop();
    await sim?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const client = () => createClient(JobService, createConnectTransport({ baseUrl: running.service.url, httpVersion: "1.1" }));
  const health = () => createClient(GrpcHealth, createConnectTransport({ baseUrl: running.service.url, httpVersion: "1.1" }));
  const ask = (jobSetId: string, jobId: string) =>
    client()
      .getJobStatus({ queue: QUEUE, jobSetId, jobId }, { timeoutMs: 20_000 })
      .then(
        (answer) => ({ state: answer.state, code: undefined as Code | undefined, message: answer.error }),
        (err: unknown) => ({ state: undefined, code: ConnectError.from(err).code, message: ConnectError.from(err).rawMessage }),
      );
  const serving = () =>
    health()
      .check({ service: "" })
      .then((r) => r.status);

  it("reads answer UNAVAILABLE naming the store and health is NOT_SERVING; after a restart that kept the data it resumes from its cursor", async () => {
    const jobSetId = uniqueJobSet("kept");
    const [a, b] = sim.submit(QUEUE, jobSetId, [SHORT_RUN, LONG_RUN]);
    await eventually(
      () => ask(jobSetId, a!),
      (r) => r.state === State.SUCCEEDED,
    );
    await eventually(
      () => ask(jobSetId, b!),
      (r) => r.state === State.RUNNING,
    );
    expect(await serving()).toBe(GrpcStatus.SERVING);
    const admin = new Redis(redis.url);
    await admin.save();
    admin.disconnect();
    const port = redis.port;
    await redis.stop();

    const down = await eventually(
      () => ask(jobSetId, a!),
      (r) => r.code !== undefined,
    );
    expect(down.code).toBe(Code.Unavailable);
    expect(down.message).toMatch(
      kind === "redis"
        ? /^store unavailable: Redis store at redis:\/\/127\.0\.0\.1:\d+: /
        : /^store unavailable: Upstash REST store at http:\/\/127\.0\.0\.1:\d+\//,
    );
    await eventually(serving, (status) => status === GrpcStatus.NOT_SERVING);
    const replaysBefore = streamCalls(sim, jobSetId).filter((c) => c.fromMessageId === "").length;

    redis = await startRedisServer({ port, dataDir });
    sim.cancel(QUEUE, jobSetId, [b!]);
    await eventually(
      () => ask(jobSetId, b!),
      (r) => r.state === State.CANCELLED,
      15_000,
    );
    expect((await ask(jobSetId, a!)).state).toBe(State.SUCCEEDED);
    await eventually(serving, (status) => status === GrpcStatus.SERVING);
    // The data came back with Redis, so nothing was read again from the start.
    expect(streamCalls(sim, jobSetId).filter((c) => c.fromMessageId === "").length).toBe(replaysBefore);
  });

  it("recovers without a restart when Redis comes back empty, and never says a finished job is missing", async () => {
    const jobSetId = uniqueJobSet("emptied");
    const [a, b] = sim.submit(QUEUE, jobSetId, [SHORT_RUN, LONG_RUN]);
    await eventually(
      () => ask(jobSetId, a!),
      (r) => r.state === State.SUCCEEDED,
    );
    await eventually(
      () => ask(jobSetId, b!),
      (r) => r.state === State.RUNNING,
    );
    const port = redis.port;
    await redis.stop();
    rmSync(join(dataDir, "dump.rdb"), { force: true });
    const seen: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const r = await ask(jobSetId, a!);
        seen.push(r.state !== undefined ? State[r.state] : Code[r.code!]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await eventually(
      () => seen.length,
      (n) => n >= 3,
    );
    redis = await startRedisServer({ port, dataDir });
    await eventually(
      () => ask(jobSetId, a!),
      (r) => r.state === State.SUCCEEDED,
      15_000,
    );
    await eventually(
      () => ask(jobSetId, b!),
      (r) => r.state === State.RUNNING,
      15_000,
    );
    polling = false;
    await poller;
    const allowed = new Set(["SUCCEEDED", "CONNECTION_ERR", "Unavailable"]);
    expect(seen.filter((answer) => !allowed.has(answer))).toEqual([]);
    expect(seen).toContain("Unavailable");
    await eventually(serving, (status) => status === GrpcStatus.SERVING);
  });
});
