import type { Protocol, Request } from "./types.js";
import { GRPC_PREFIX_BYTES } from "./wire.js";

/** Only the plainest forms of each protocol; anything else is connect's to judge. */
export function protocolOf(req: Request): Protocol | undefined {
  const type = req.headers["content-type"];
  if (req.httpVersionMajor === 2 && (type === "application/grpc" || type === "application/grpc+proto")) {
    const encoding = req.headers["grpc-encoding"];
    return encoding === undefined || encoding === "identity" ? "grpc" : undefined;
  }
  if (type === "application/json" || type === "application/proto") {
    return req.headers["content-encoding"] === undefined ? "connect" : undefined;
  }
  return undefined;
}

/** The one message of a well-formed unary body, or undefined for connect to explain what is wrong. */
export function unaryMessage(protocol: Protocol, body: Buffer): Uint8Array | undefined {
  if (protocol === "connect") return body;
  if (body.length < GRPC_PREFIX_BYTES || body[0] !== 0) return undefined;
  const length = body.readUInt32BE(1);
  if (body.length !== GRPC_PREFIX_BYTES + length) return undefined;
  return body.subarray(GRPC_PREFIX_BYTES);
}
