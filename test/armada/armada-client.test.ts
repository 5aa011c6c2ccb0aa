import { readFileSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Event } from "../../src/gen/api/event_pb.js";
import { HealthCheckResponse_ServingStatus } from "../../src/gen/api/health_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { createArmadaClient, type ArmadaClient } from "../../src/armada/armada-client.js";
import { selfSignedCertificate } from "../support/tls.js";
import { eventually, streamCalls } from "../subscriber/harness.js";

const QUEUE = "pool";

const CLIENT_BASICS = {
  authorization: () => Promise.resolve(undefined),
  maxConnections: 1,
  maxStreamsPerConnection: 10,
  keepaliveIntervalMs: 1_000,
  keepaliveTimeoutMs: 1_000,
  healthTimeoutMs: 1_000,
};

function clientFor(url: string, maxConnections: number, maxStreamsPerConnection: number): ArmadaClient {
  return createArmadaClient({ ...CLIENT_BASICS, url, maxConnections, maxStreamsPerConnection });
}

/** Opens a watch stream and keeps reading it until `signal` aborts. */
function watch(client: ArmadaClient, jobSetId: string, signal: AbortSignal): Promise<void> {
  return (async () => {
    for await (const _ of client.jobSetEvents({ queue: QUEUE, jobSetId, fromMessageId: "", watch: true }, signal)) {
      // Nothing is appended: the stream only has to stay open.
    }
  })().catch(() => undefined);
}

describe("the pool of HTTP/2 connections to Armada", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ queues: [QUEUE] });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it("spreads streams over at most maxConnections, and a stream beyond the capacity waits for a free slot", async () => {
    const client = clientFor(sim.url, 2, 2);
    const controllers = Array.from({ length: 5 }, () => new AbortController());
    try {
      const streams = controllers.map((c, i) => watch(client, `pool-set-${i}`, c.signal));
      await eventually(
        () => sim.openStreams({ queue: QUEUE }),
        (n) => n === 4,
      );
      expect(client.streamsPerConnection()).toEqual([2, 2]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(streamCalls(sim, "pool-set-4")).toHaveLength(0);

      controllers[0]!.abort();
      await eventually(
        () => streamCalls(sim, "pool-set-4").length,
        (n) => n === 1,
      );
      await eventually(
        () => sim.openStreams({ queue: QUEUE }),
        (n) => n === 4,
      );
      controllers.forEach((c) => c.abort());
      await Promise.all(streams);
      expect(client.streamsPerConnection()).toEqual([0, 0]);
    } finally {
      controllers.forEach((c) => c.abort());
      client.close();
    }
  });

  it("a waiting stream gives up when its caller does", async () => {
    const client = clientFor(sim.url, 1, 1);
    const holder = new AbortController();
    try {
      const held = watch(client, "pool-hold", holder.signal);
      await eventually(
        () => client.streamsPerConnection(),
        (s) => s[0] === 1,
      );
      const iterator = client.jobSetEvents({ queue: QUEUE, jobSetId: "pool-wait", fromMessageId: "", watch: true }, AbortSignal.timeout(100));
      await expect(iterator[Symbol.asyncIterator]().next()).rejects.toThrow();
      holder.abort();
      await held;
    } finally {
      holder.abort();
      client.close();
    }
  });
});

describe("the server's concurrent stream limit", () => {
  let server: http2.Http2Server;
  let url: string;
  beforeAll(async () => {
    // Armada may announce a lower SETTINGS_MAX_CONCURRENT_STREAMS than we would use.
    const handler = connectNodeAdapter({
      routes: (router) =>
        router.service(Event, {
          async *getJobSetEvents(_request, context) {
            await new Promise((resolve) => context.signal.addEventListener("abort", resolve, { once: true }));
          },
        }),
    });
    server = http2.createServer({ settings: { maxConcurrentStreams: 1 } }, handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("is honoured: streams beyond it go to new connections", async () => {
    const client = clientFor(url, 3, 100);
    const stop = new AbortController();
    try {
      // All at once: the pool must not pile streams onto a connection whose limit it does not know yet.
      const streams = ["limit-0", "limit-1", "limit-2"].map((jobSetId) => watch(client, jobSetId, stop.signal));
      await eventually(
        () => client.streamsPerConnection(),
        (s) => s.length === 3,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(client.streamsPerConnection()).toEqual([1, 1, 1]);
      // Once the limit is known, a fourth stream waits instead of being refused by Node.
      streams.push(watch(client, "limit-3", stop.signal));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(client.streamsPerConnection()).toEqual([1, 1, 1]);
      stop.abort();
      await Promise.all(streams);
    } finally {
      stop.abort();
      client.close();
    }
  });
});

describe("TLS to Armada (https://)", () => {
  let server: http2.Http2SecureServer;
  let url: string;
  let certFile: string;
  beforeAll(async () => {
    const certificate = selfSignedCertificate();
    certFile = certificate.certFile;
    const handler = connectNodeAdapter({
      routes: (router) =>
        router.service(Event, {
          health: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }),
          async *getJobSetEvents(request) {
            yield { id: "1:0:0:1", message: { events: { case: "queued", value: { jobId: "j", jobSetId: request.id, queue: request.queue } } } };
          },
        }),
    });
    server = http2.createSecureServer({ cert: certificate.cert, key: readFileSync(certificate.keyFile) }, handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("trusts a server signed by the configured CA file", async () => {
    const client = createArmadaClient({ ...CLIENT_BASICS, url, caFile: certFile });
    try {
      expect(await client.healthy(AbortSignal.timeout(2_000))).toBe(true);
      const ids: string[] = [];
      for await (const messages of client.jobSetEvents({ queue: "q", jobSetId: "s", fromMessageId: "", watch: false }, AbortSignal.timeout(2_000)))
        ids.push(...messages.map((m) => m.id));
      expect(ids).toEqual(["1:0:0:1"]);
    } finally {
      client.close();
    }
  });

  it("refuses a server its roots do not vouch for", async () => {
    const client = createArmadaClient({ ...CLIENT_BASICS, url });
    try {
      expect(await client.healthy(AbortSignal.timeout(2_000))).toBe(false);
    } finally {
      client.close();
    }
  });

  it("rejects other URL schemes with a clear message", () => {
    expect(() => createArmadaClient({ ...CLIENT_BASICS, url: "grpc://armada:50051" })).toThrow(
      "Armada URL must start with http:// (h2c) or https:// (TLS), not grpc://",
    );
  });
});
