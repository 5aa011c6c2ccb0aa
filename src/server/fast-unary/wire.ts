import type http from "node:http";
import type { Compression } from "@connectrpc/connect/protocol";
import type { NodeHeaders, Protocol, Response } from "./types.js";

/** A gRPC message's prefix: one flags byte and a 32-bit length. */
export const GRPC_PREFIX_BYTES = 5;

/** Writes as connect-node's adapter does: head, body, trailers, in that order and with the same names. */
export function write(protocol: Protocol, status: number, body: Uint8Array, headers: { head: NodeHeaders; trailers: NodeHeaders }, res: Response): void {
  (res as http.ServerResponse).writeHead(status, headers.head);
  if (protocol === "grpc") res.addTrailers(headers.trailers);
  if (body.byteLength > 0) (res as http.ServerResponse).end(body);
  else res.end();
}

export async function envelope(message: Uint8Array, compression: Compression | null, compressMinBytes: number): Promise<Uint8Array> {
  let data = message;
  let flags = 0;
  if (compression && data.byteLength >= compressMinBytes) {
    data = await compression.compress(data);
    flags = 1;
  }
  const framed = new Uint8Array(GRPC_PREFIX_BYTES + data.byteLength);
  framed[0] = flags;
  new DataView(framed.buffer).setUint32(1, data.byteLength);
  framed.set(data, GRPC_PREFIX_BYTES);
  return framed;
}

export function nodeHeaders(headers: Headers): NodeHeaders {
  const out: NodeHeaders = Object.create(null) as NodeHeaders;
  headers.forEach((value, key) => (out[key] = value));
  return out;
}

/** In the order a Headers object iterates, which is the order connect-node writes them in. */
export function sortedHeaders(headers: NodeHeaders): NodeHeaders {
  const out: NodeHeaders = Object.create(null) as NodeHeaders;
  for (const key of Object.keys(headers).sort()) out[key] = headers[key]!;
  return out;
}

export const GRPC_OK: NodeHeaders = { "grpc-status": "0" };
export const CONNECT_JSON_HEAD: NodeHeaders = { "content-type": "application/json" };
export const CONNECT_PROTO_HEAD: NodeHeaders = { "content-type": "application/proto" };
export const NO_TRAILERS: NodeHeaders = {};
const GRPC_HEADS = new Map<string, NodeHeaders>();

/** The head of a gRPC answer nothing changed, in the order connect-node writes it; made once per encoding. */
export function grpcHead(compression: Compression | null): NodeHeaders {
  const name = compression?.name ?? "identity";
  let head = GRPC_HEADS.get(name);
  if (!head) {
    head = compression ? { "content-type": "application/grpc+proto", "grpc-encoding": compression.name } : { "content-type": "application/grpc+proto" };
    GRPC_HEADS.set(name, head);
  }
  return head;
}
