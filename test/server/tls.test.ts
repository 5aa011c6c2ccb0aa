import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobService } from "../../src/gen/jobservice/jobservice_pb.js";
import { jobRecord, seedJobs, State } from "../support/jobs.js";
import { startTestService, type TestService } from "../support/service.js";
import { selfSignedCertificate } from "../support/tls.js";

const certificate = selfSignedCertificate();
const jobSet = { queue: "q", jobSetId: "s" };
let service: TestService;

beforeAll(async () => {
  service = await startTestService({ tls: certificate });
  await seedJobs(service.store, jobSet, { j: jobRecord(State.RUNNING) });
});
afterAll(() => service.stop());

describe("TLS", () => {
  it("offers h2 and http/1.1 by ALPN", async () => {
    for (const protocol of ["h2", "http/1.1"]) {
      const negotiated = await new Promise<string | false>((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port: service.port, ca: certificate.cert, ALPNProtocols: [protocol] }, () => {
          resolve(socket.alpnProtocol ?? false);
          socket.end();
        });
        socket.on("error", reject);
      });
      expect(negotiated).toBe(protocol);
    }
  });

  it("serves gRPC over h2 and Connect JSON over HTTPS/1.1", async () => {
    const transports = [
      createGrpcTransport({ baseUrl: service.url, nodeOptions: { ca: certificate.cert } }),
      createConnectTransport({ baseUrl: service.url, httpVersion: "1.1", nodeOptions: { ca: certificate.cert } }),
    ];
    for (const transport of transports) {
      const client = createClient(JobService, transport);
      expect((await client.getJobStatus({ ...jobSet, jobId: "j" })).state).toBe(State.RUNNING);
    }
  });
});
