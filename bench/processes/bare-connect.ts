// The framework's own floor: a bare connect-node HTTP/2 server with a constant
// GetJobStatus, without the service's one-port listener, Hono, interceptors or
// metrics. The empty handler measured against it shows what the service's
// plumbing costs before any store is read.
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { serveCommands } from "../lib/serve-commands.js";

const server = http2.createServer(
  connectNodeAdapter({
    routes: (router) => {
      router.service(JobService, {
        getJobStatus: async () => ({ state: State.RUNNING, error: "" }),
      });
    },
  }),
);
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

serveCommands({ port: (server.address() as AddressInfo).port }, {}, async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
