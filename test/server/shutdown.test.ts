import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { JobService } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobAnswer } from "../../src/answers/answer.js";
import { State } from "../support/jobs.js";
import { startTestService } from "../support/service.js";

/** A status source whose answers wait until the test lets them go. */
function heldAnswers() {
  const waiting: Array<() => void> = [];
  let arrived: () => void = () => undefined;
  const firstArrival = new Promise<void>((resolve) => (arrived = resolve));
  return {
    firstArrival,
    release: () => waiting.splice(0).forEach((go) => go()),
    status: () =>
      new Promise<JobAnswer>((resolve) => {
        waiting.push(() => resolve({ state: State.RUNNING, error: "" }));
        arrived();
      }),
    lookup: async () => ({ jobs: new Map() }),
  };
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", () => resolve(true));
  });
}

describe("graceful shutdown", () => {
  it.each([
    ["gRPC over h2c", (url: string) => createGrpcTransport({ baseUrl: url })],
    ["Connect JSON over HTTP/1.1", (url: string) => createConnectTransport({ baseUrl: url, httpVersion: "1.1" })],
  ])("lets a call in flight over %s finish, while refusing new connections", async (_name, transport) => {
    const held = heldAnswers();
    const service = await startTestService({ status: held, shutdownGraceSeconds: 10 });
    const client = createClient(JobService, transport(service.url));
    const inFlight = client.getJobStatus({ queue: "q", jobSetId: "s", jobId: "j" });
    await held.firstArrival;

    const stopped = service.stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await refusesConnections(service.port)).toBe(true);

    held.release();
    expect((await inFlight).state).toBe(State.RUNNING);
    await stopped;
  });

  it("does not wait for idle keep-alive connections", async () => {
    const service = await startTestService({ shutdownGraceSeconds: 30 });
    const client = createClient(JobService, createConnectTransport({ baseUrl: service.url, httpVersion: "1.1" }));
    await client.getJobStatus({ queue: "q", jobSetId: "s", jobId: "j" });
    const grpc = createClient(JobService, createGrpcTransport({ baseUrl: service.url }));
    await grpc.getJobStatus({ queue: "q", jobSetId: "s", jobId: "j" });
    const started = Date.now();
    await service.stop();
    // Far below the 30 s grace: nothing was in flight, so nothing was waited for.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("cuts off calls that outlive the grace period", async () => {
    const held = heldAnswers();
    const service = await startTestService({ status: held, shutdownGraceSeconds: 0 });
    const client = createClient(JobService, createGrpcTransport({ baseUrl: service.url }));
    const inFlight = client.getJobStatus({ queue: "q", jobSetId: "s", jobId: "j" }).then(
      () => "answered",
      () => "cut off",
    );
    await held.firstArrival;
    await service.stop();
    expect(await inFlight).toBe("cut off");
  });
});
