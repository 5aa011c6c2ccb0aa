import { create, toBinary } from "@bufbuild/protobuf";
import { JobServiceRequestSchema } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobKey } from "../../src/store/store.js";

export const GET_JOB_STATUS_PATH = "/jobservice.JobService/GetJobStatus";

/** One uncompressed gRPC length-prefixed message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** A GetJobStatus request as one gRPC frame, for h2load's fixed body. */
export function grpcRequestBody(key: JobKey): Buffer {
  return grpcFrame(toBinary(JobServiceRequestSchema, create(JobServiceRequestSchema, key)));
}

/** The same request as Connect JSON. */
export function connectJsonBody(key: JobKey): string {
  return JSON.stringify({ jobId: key.jobId, jobSetId: key.jobSetId, queue: key.queue });
}
