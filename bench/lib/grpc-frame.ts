import { create, toBinary } from "@bufbuild/protobuf";
import { JobServiceRequestSchema } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobKey } from "../../src/store/store.js";

export const GET_JOB_STATUS_PATH = "/jobservice.JobService/GetJobStatus";

/** A GetJobStatus request as one uncompressed gRPC length-prefixed message, for h2load's fixed body. */
export function grpcRequestBody(key: JobKey): Buffer {
  const message = toBinary(JobServiceRequestSchema, create(JobServiceRequestSchema, key));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
}

/** The same request as Connect JSON. */
export function connectJsonBody(key: JobKey): string {
  return JSON.stringify({ jobId: key.jobId, jobSetId: key.jobSetId, queue: key.queue });
}
