import { fromBinary } from "@bufbuild/protobuf";
import type { OutgoingHttpHeaders } from "node:http2";
import { gunzipSync, inflateSync } from "node:zlib";
import { JobSubmitRequestSchema, JobSubmitResponseSchema } from "../gen/api/submit_pb.js";
import { EXTERNAL_JOB_URI_ANNOTATION } from "../query/query-job.js";
import type { JobSetKey } from "../store/store.js";

/** What a SubmitJobs that Armada accepted says: the job set, the ids of the jobs it created, and their external job URIs. */
export interface SubmitSeen {
  readonly jobSet: JobSetKey;
  readonly jobIds: readonly string[];
  /** Job id → external job URI, for the created jobs that carry one. */
  readonly externalJobUris: ReadonlyMap<string, string>;
}

/** Most bytes of a submit kept for reading it; larger submits pass without being learnt from. */
const MAX_SEEN_BYTES = 4 * 1024 * 1024;

/**
 * Reads a SubmitJobs call as it passes through, without holding it up:
 * request and response bytes are copied aside, and once Armada's trailers
 * say OK the single gRPC message of each side is decoded. Only gRPC with
 * protobuf messages is read, plain or compressed with gzip or deflate (each
 * side's own `grpc-encoding`: armadactl compresses its requests); anything
 * else passes unread.
 */
export function submitSeen(
  contentType: string,
  requestEncoding: string | undefined,
):
  | {
      request(chunk: Buffer): void;
      response(chunk: Buffer): void;
      accepted(trailers: OutgoingHttpHeaders, responseEncoding: string | undefined): SubmitSeen | undefined;
    }
  | undefined {
  if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return undefined;
  const sent: Buffer[] = [];
  const received: Buffer[] = [];
  let bytes = 0;
  const keep = (into: Buffer[], chunk: Buffer): void => {
    bytes += chunk.length;
    if (bytes <= MAX_SEEN_BYTES) into.push(chunk);
  };
  return {
    request: (chunk) => keep(sent, chunk),
    response: (chunk) => keep(received, chunk),
    accepted(trailers, responseEncoding) {
      if (String(trailers["grpc-status"] ?? "") !== "0" || bytes > MAX_SEEN_BYTES) return undefined;
      try {
        const request = onlyMessage(Buffer.concat(sent), requestEncoding);
        const response = onlyMessage(Buffer.concat(received), responseEncoding);
        if (!request || !response) return undefined;
        const submit = fromBinary(JobSubmitRequestSchema, request);
        const answer = fromBinary(JobSubmitResponseSchema, response);
        // Armada answers the request's items in order, one response item each.
        const created = answer.jobResponseItems.flatMap((item, i) => (item.error === "" && item.jobId !== "" ? [{ jobId: item.jobId, i }] : []));
        const externalJobUris = new Map<string, string>();
        if (answer.jobResponseItems.length === submit.jobRequestItems.length) {
          for (const { jobId, i } of created) {
            const uri = submit.jobRequestItems[i]?.annotations[EXTERNAL_JOB_URI_ANNOTATION];
            if (uri) externalJobUris.set(jobId, uri);
          }
        }
        return { jobSet: { queue: submit.queue, jobSetId: submit.jobSetId }, jobIds: created.map(({ jobId }) => jobId), externalJobUris };
      } catch {
        return undefined;
      }
    },
  };
}

/** The one message of a gRPC body, decompressed; undefined when there is not exactly one or its encoding is not one read here. Throws on a corrupt one. */
function onlyMessage(body: Buffer, encoding: string | undefined): Uint8Array | undefined {
  if (body.length < 5) return undefined;
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) return undefined;
  const message = body.subarray(5);
  if (body[0] === 0) return message;
  if (body[0] !== 1) return undefined;
  // Bounded like the bytes kept, so a small compressed message cannot expand without limit.
  if (encoding === "gzip") return gunzipSync(message, { maxOutputLength: MAX_SEEN_BYTES });
  if (encoding === "deflate") return inflateSync(message, { maxOutputLength: MAX_SEEN_BYTES });
  return undefined;
}
