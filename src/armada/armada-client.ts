import type { OutgoingHttpHeaders } from "node:http2";
import { toBinary, create } from "@bufbuild/protobuf";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { Event, JobSetRequestSchema } from "../gen/api/event_pb.js";
import { HealthCheckResponse_ServingStatus } from "../gen/api/health_pb.js";
import type { Authorization } from "./authorization.js";
import { decodeEvent, type ArmadaMessage, type UndecodableEvent } from "./decode-event.js";
import { createArmadaConnections, type ArmadaConnections, type ArmadaConnectionsOptions } from "./connections.js";
import { readGrpcStream } from "./grpc-stream.js";

export interface JobSetStreamRequest {
  readonly queue: string;
  readonly jobSetId: string;
  /** Only messages strictly after this id; "" reads from the beginning. */
  readonly fromMessageId: string;
  /** false: the backlog, then the stream ends; true: the backlog, then live events, never ending by itself. */
  readonly watch: boolean;
}

/** Armada's event API as the subscriber uses it. */
export interface ArmadaClient {
  /** The job set's messages in order, in batches of those that arrived together. */
  jobSetEvents(request: JobSetStreamRequest, signal: AbortSignal): AsyncIterable<readonly ArmadaMessage[]>;
  /** `api.Event/Health` within the deadline; false on any failure, never hangs. */
  healthy(signal: AbortSignal): Promise<boolean>;
  /** Open streams per pooled connection, for tests and diagnostics. */
  streamsPerConnection(): number[];
  /** Closes the connections it opened itself and fails the streams still open on them. */
  close(): void;
}

export interface ArmadaClientOptions extends ArmadaConnectionsOptions {
  readonly authorization: Authorization;
  readonly healthTimeoutMs: number;
  /** The service's connections to Armada, shared with its other calls; the client opens its own per the options above when absent. */
  readonly connections?: ArmadaConnections;
  /**
   * Told of each frame of a job set's stream that is not a valid message, as
   * the stream passes it: the stream goes on without it (moving the cursor
   * past it when its id could be read) instead of failing on it for ever.
   */
  readonly onUndecodable?: (request: JobSetStreamRequest, problem: UndecodableEvent) => void;
}

export function createArmadaClient(options: ArmadaClientOptions): ArmadaClient {
  const connections = options.connections ?? createArmadaConnections(options);
  const authorize: Interceptor = (next) => async (request) => {
    const value = await options.authorization();
    if (value !== undefined) request.header.set("authorization", value);
    return next(request);
  };
  // Health has its own connection so that a full pool never delays a readiness probe.
  const health = createClient(Event, connections.separate().transport([authorize]));

  return {
    async *jobSetEvents(request, signal) {
      const slot = await connections.acquire(signal);
      const connection = slot.connection;
      try {
        const stream = await connection.open(GET_JOB_SET_EVENTS, await requestHeaders(options.authorization));
        stream.end(
          framed(
            toBinary(
              JobSetRequestSchema,
              create(JobSetRequestSchema, {
                id: request.jobSetId,
                queue: request.queue,
                fromMessageId: request.fromMessageId,
                watch: request.watch,
                errorIfMissing: false,
              }),
            ),
          ),
        );
        const report = (problem: UndecodableEvent): void => options.onUndecodable?.(request, problem);
        yield* readGrpcStream(
          stream,
          (bytes) => decodeEvent(bytes, report),
          () => connection.notifyResponseByteRead(stream),
          signal,
        );
      } finally {
        slot.release();
      }
    },
    async healthy(signal) {
      try {
        const response = await health.health({}, { signal, timeoutMs: options.healthTimeoutMs });
        return response.status === HealthCheckResponse_ServingStatus.SERVING;
      } catch {
        return false;
      }
    },
    streamsPerConnection: () => connections.streamsPerConnection(),
    close() {
      // Shared connections are closed by whoever made them.
      if (!options.connections) connections.close();
    },
  };
}

const GET_JOB_SET_EVENTS = "/api.Event/GetJobSetEvents";

/** What connect's gRPC transport sends, less compression: Armada's events are small and the link is fast. */
async function requestHeaders(authorization: Authorization): Promise<OutgoingHttpHeaders> {
  const headers: OutgoingHttpHeaders = { "content-type": "application/grpc+proto", te: "trailers", "user-agent": USER_AGENT };
  const value = await authorization();
  if (value !== undefined) headers.authorization = value;
  return headers;
}

const USER_AGENT = "armada-jobservice";

function framed(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(5 + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, 5);
  return frame;
}
