// An Armada event API that is never the bottleneck: it reads each job set's
// history from the simulator once, keeps the response bytes exactly as they
// came (framed), and serves every later GetJobSetEvents by writing the slice
// after the caller's cursor straight to the HTTP/2 stream. Ingest measured
// against it shows what the subscriber can take, not what the simulator can give.
import http2, { type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EventStreamMessageSchema, JobSetRequestSchema } from "../../src/gen/api/event_pb.js";
import { HealthCheckResponse_ServingStatus, HealthCheckResponseSchema } from "../../src/gen/api/health_pb.js";
import type { JobSetKey } from "../../src/store/store.js";
import { frameReader } from "../../src/armada/grpc-stream.js";
import { grpcFrame } from "../lib/grpc-frame.js";
import { serveCommands } from "../lib/serve-commands.js";

export interface ReplayReady {
  readonly url: string;
}

/** One job set's history: its framed bytes, and where each message starts with its id. */
interface Recording {
  readonly bytes: Buffer;
  readonly starts: readonly number[];
  readonly ids: ReadonlyMap<string, number>;
}

const recordings = new Map<string, Recording>();
const sessions = new Set<http2.ServerHttp2Session>();
const keyOf = (jobSet: JobSetKey): string => `${jobSet.queue}\u0000${jobSet.jobSetId}`;

const server = http2.createServer({ settings: { maxConcurrentStreams: 1_000 } });
server.on("session", (session) => {
  sessions.add(session);
  session.on("close", () => sessions.delete(session));
});
server.on("stream", (stream, headers) => {
  stream.on("error", () => undefined);
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  stream.on("end", () => {
    const body = Buffer.concat(chunks).subarray(5);
    if (headers[":path"] === "/api.Event/Health") answerHealth(stream);
    else if (headers[":path"] === "/api.Event/GetJobSetEvents") replay(stream, fromBinary(JobSetRequestSchema, body));
    else stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12" }, { endStream: true });
  });
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

function replay(stream: ServerHttp2Stream, request: { id: string; queue: string; fromMessageId: string; watch: boolean }): void {
  const recording = recordings.get(keyOf({ queue: request.queue, jobSetId: request.id }));
  if (!recording) {
    stream.respond(
      { ":status": 200, "content-type": "application/grpc+proto", "grpc-status": "5", "grpc-message": "job set not recorded" },
      { endStream: true },
    );
    return;
  }
  const after = request.fromMessageId === "" ? 0 : (recording.ids.get(request.fromMessageId) ?? -1) + 1;
  const from = recording.starts[after] ?? recording.bytes.length;
  stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: !request.watch });
  if (request.watch) {
    // The history, then nothing more: the caller holds the stream open until it is done with the job set.
    stream.write(recording.bytes.subarray(from));
    return;
  }
  stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
  stream.end(recording.bytes.subarray(from));
}

function answerHealth(stream: ServerHttp2Stream): void {
  const frame = grpcFrame(toBinary(HealthCheckResponseSchema, create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING })));
  stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
  stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
  stream.end(frame);
}

/** Reads a job set's whole history from `armadaUrl` and keeps its bytes. */
async function record(session: http2.ClientHttp2Session, jobSet: JobSetKey): Promise<number> {
  const body = grpcFrame(toBinary(JobSetRequestSchema, create(JobSetRequestSchema, { id: jobSet.jobSetId, queue: jobSet.queue, watch: false })));
  const stream = session.request({ ":method": "POST", ":path": "/api.Event/GetJobSetEvents", "content-type": "application/grpc+proto", te: "trailers" });
  stream.end(body);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  const starts: number[] = [];
  const ids = new Map<string, number>();
  let offset = 0;
  frameReader(undefined).push(bytes, (payload) => {
    ids.set(fromBinary(EventStreamMessageSchema, payload).id, starts.length);
    starts.push(offset);
    offset += 5 + payload.length;
  });
  recordings.set(keyOf(jobSet), { bytes, starts, ids });
  return starts.length;
}

serveCommands(
  { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } satisfies ReplayReady,
  {
    async record({ armadaUrl, jobSets }: { armadaUrl: string; jobSets: readonly JobSetKey[] }) {
      const session = http2.connect(armadaUrl);
      try {
        let events = 0;
        for (const jobSet of jobSets) events += await record(session, jobSet);
        return { events, bytes: [...recordings.values()].reduce((sum, r) => sum + r.bytes.length, 0) };
      } finally {
        session.close();
      }
    },
    async forget() {
      recordings.clear();
    },
    async cpu() {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    },
  },
  async () => {
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  },
);
