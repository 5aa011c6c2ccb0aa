import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health as GrpcHealth, HealthCheckResponse_ServingStatus as GrpcStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { createMemoryStore } from "../../src/store/memory.js";
import type { JobStore } from "../../src/store/store.js";
import { startTestService, type TestService } from "../support/service.js";

let service: TestService;

beforeAll(async () => {
  const memory = createMemoryStore({ ttlSeconds: 60 });
  const storeDown: JobStore = { ...memory, ping: () => Promise.reject(new Error("store unreachable")) };
  service = await startTestService({ store: storeDown });
});
afterAll(() => service.stop());

describe('grpc.health.v1 service "liveness" (the Kubernetes liveness probe)', () => {
  it("answers SERVING while a dependency is down, when readiness says NOT_SERVING", async () => {
    const health = createClient(GrpcHealth, createGrpcTransport({ baseUrl: service.url }));
    expect((await health.check({ service: "" })).status).toBe(GrpcStatus.NOT_SERVING);
    expect((await health.check({ service: "liveness" })).status).toBe(GrpcStatus.SERVING);
  });

  it("is watchable like the other names", async () => {
    const health = createClient(GrpcHealth, createGrpcTransport({ baseUrl: service.url }));
    const controller = new AbortController();
    const stream = health.watch({ service: "liveness" }, { signal: controller.signal })[Symbol.asyncIterator]();
    const first = await stream.next();
    controller.abort();
    expect(first.done ? undefined : first.value.status).toBe(GrpcStatus.SERVING);
  });
});
