import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventStreamMessageSchema, JobSetRequestSchema } from "../../src/gen/api/event_pb.js";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { ENV_TIMEOUT_MS, pythonEnv } from "../support/python-env.js";
import { caseOf, queuedEvent } from "../support/simulator.js";

const run = promisify(execFile);

/**
 * grpcio (the locked "client" environment), without generated stubs: the request goes in as bytes made
 * here, each response comes back as base64, and an error as its status name.
 */
const CLIENT = `
import base64, sys, grpc
target, request, auth = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
with grpc.insecure_channel(target) as channel:
    call = channel.unary_stream("/api.Event/GetJobSetEvents", request_serializer=None, response_deserializer=None)
    metadata = [("authorization", auth)] if auth else None
    try:
        for message in call(request, timeout=5, metadata=metadata):
            print(base64.b64encode(message).decode())
        print("OK")
    except grpc.RpcError as error:
        print(error.code().name)
`;

describe("a Python grpcio client", () => {
  let sim: Simulator;
  let python: string;
  beforeAll(async () => {
    ({ python } = await pythonEnv("client"));
    sim = await startSimulator({ queues: ["q"] });
    sim.appendEvents("q", "s", [queuedEvent("a"), queuedEvent("b")]);
  }, ENV_TIMEOUT_MS);
  afterAll(() => sim.close());

  const getJobSetEvents = async (request: { queue: string; id: string; fromMessageId?: string }, auth = "") => {
    const bytes = Buffer.from(toBinary(JobSetRequestSchema, create(JobSetRequestSchema, { ...request, watch: false }))).toString("hex");
    const { stdout } = await run(python, ["-c", CLIENT, `127.0.0.1:${sim.port}`, bytes, auth]);
    const lines = stdout.trim().split("\n");
    const status = lines.pop();
    return { status, messages: lines.map((line) => fromBinary(EventStreamMessageSchema, Buffer.from(line, "base64"))) };
  };

  it("reads the backlog, resumes after an id and ends OK", async () => {
    const all = await getJobSetEvents({ queue: "q", id: "s" });
    expect(all.status).toBe("OK");
    expect(all.messages.map(caseOf)).toEqual(["queued", "queued"]);
    const rest = await getJobSetEvents({ queue: "q", id: "s", fromMessageId: all.messages[0]!.id });
    expect(rest.messages.map((m) => m.id)).toEqual([all.messages[1]!.id]);
  });

  it("sees NOT_FOUND for an unknown queue and UNAUTHENTICATED without credentials", async () => {
    expect((await getJobSetEvents({ queue: "nope", id: "s" })).status).toBe("NOT_FOUND");
    sim.faults.requireAuth([{ kind: "bearer", token: "t" }]);
    try {
      expect((await getJobSetEvents({ queue: "q", id: "s" })).status).toBe("UNAUTHENTICATED");
      expect((await getJobSetEvents({ queue: "q", id: "s" }, "Bearer t")).status).toBe("OK");
    } finally {
      sim.faults.disableAuth();
    }
  });
});
