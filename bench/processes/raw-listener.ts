// The runtime's floor under the read path: the service's own one-port listener
// (preface sniffing, h2c and HTTP/1.1 on one port) with a handler that answers
// every request with a constant GetJobStatus response, written straight on
// Node's request: gRPC framing and trailers over HTTP/2, Connect JSON over
// HTTP/1.1. No routing, no decoding, no store.
import type http from "node:http";
import type http2 from "node:http2";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { JobServiceResponse_State as State, JobServiceResponseSchema } from "../../src/gen/jobservice/jobservice_pb.js";
import { listen } from "../../src/server/listener.js";
import { grpcFrame } from "../lib/grpc-frame.js";
import { serveCommands } from "../lib/serve-commands.js";

const answer = create(JobServiceResponseSchema, { state: State.RUNNING, error: "" });
const grpcBody = grpcFrame(toBinary(JobServiceResponseSchema, answer));
const jsonBody = Buffer.from(toJsonString(JobServiceResponseSchema, answer));

const listener = await listen({
  host: "127.0.0.1",
  port: 0,
  handler: (req, res) => {
    req.on("data", () => undefined);
    req.on("end", () => {
      if (req.httpVersionMajor === 2) {
        const h2 = res as http2.Http2ServerResponse;
        h2.writeHead(200, { "content-type": "application/grpc+proto" });
        h2.addTrailers({ "grpc-status": "0" });
        h2.end(grpcBody);
      } else {
        (res as http.ServerResponse).writeHead(200, { "content-type": "application/json", "content-length": String(jsonBody.length) });
        res.end(jsonBody);
      }
    });
  },
});

serveCommands({ port: listener.port }, {}, () => listener.close(1_000));
