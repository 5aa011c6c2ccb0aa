import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event } from "../../src/gen/api/event_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { http2Request } from "../support/http.js";
import { queuedEvent, readStream } from "../support/simulator.js";

describe("protocols besides gRPC", () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ queues: ["q"] });
    sim.appendEvents("q", "s", [queuedEvent("a"), queuedEvent("b")]);
  });
  afterAll(() => sim.close());

  it.each([
    ["Connect", () => createConnectTransport({ baseUrl: sim.url, httpVersion: "2" })],
    ["gRPC-Web", () => createGrpcWebTransport({ baseUrl: sim.url, httpVersion: "2" })],
  ])("%s streams the same events over h2c", async (_name, transport) => {
    const events = createClient(Event, transport()).getJobSetEvents;
    const { messages, ended } = await readStream((signal) => events({ queue: "q", id: "s" }, { signal }));
    expect(ended).toBe(true);
    expect(messages.map((m) => m.id)).toEqual(sim.events("q", "s").map((m) => m.id));
  });

  it("answers a gRPC call to a method it does not serve with UNIMPLEMENTED", async () => {
    const response = await http2Request(
      sim.url,
      { ":method": "POST", ":path": "/api.Event/Watch", "content-type": "application/grpc", te: "trailers" },
      Buffer.alloc(5),
    );
    expect(response.status).toBe(200);
    expect(response.headers["grpc-status"] ?? response.trailers["grpc-status"]).toBe("12");
  });
});
