import { readFileSync } from "node:fs";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { ArmadaConnections } from "./connections.js";
import { pooledTransport } from "./pooled-transport.js";
import { Jobs } from "../gen/api/job_pb.js";
import type { Authorization } from "./authorization.js";

export interface UpstreamJobsOptions {
  /** Armada's URL: http:// (h2c) or https:// (TLS). */
  readonly url: string;
  readonly caFile?: string;
  /** The service's own Armada credential, used unless a call carries its caller's. */
  readonly authorization: Authorization;
  /** The service's connections to Armada, shared with its other calls; a connection of its own when absent. */
  readonly connections?: ArmadaConnections;
}

/**
 * Armada's own Query API, for what the cache cannot answer. A call that sets
 * its own `authorization` header (a caller's, passed on) keeps it; every
 * other call goes with the service's identity.
 */
export function createUpstreamJobs(options: UpstreamJobsOptions): Client<typeof Jobs> {
  const url = new URL(options.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`Armada URL must start with http:// (h2c) or https:// (TLS), not ${url.protocol}//`);
  }
  const authorize: Interceptor = (next) => async (request) => {
    if (!request.header.has("authorization")) {
      const value = await options.authorization();
      if (value !== undefined) request.header.set("authorization", value);
    }
    return next(request);
  };
  const transport = options.connections
    ? pooledTransport(options.connections, [authorize])
    : createGrpcTransport({
        baseUrl: url.origin,
        interceptors: [authorize],
        ...(options.caFile ? { nodeOptions: { ca: readFileSync(options.caFile) } } : {}),
      });
  return createClient(Jobs, transport);
}
