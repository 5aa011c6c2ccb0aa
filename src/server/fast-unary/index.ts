import { createContextValues } from "@connectrpc/connect";
import { createMethodSerializationLookup, validateReadWriteMaxBytes } from "@connectrpc/connect/protocol";
import { protocolOf, unaryMessage } from "./admission.js";
import { answer } from "./answer.js";
import { readBody, replayBody } from "./request-body.js";
import type { FastUnary, FastUnaryOptions, Route, Settings } from "./types.js";

export type { FastUnary, FastUnaryOptions } from "./types.js";

/**
 * The common case of the hot unary RPCs, served straight on Node's request:
 * gRPC over HTTP/2 with `application/grpc[+proto]`, Connect unary with
 * `application/json` or `application/proto`, each POSTed to an exact path.
 * Everything else — other content types, GET, gRPC-Web, streaming, and any
 * request whose body is not one well-formed message — goes to connect, which
 * stays the reference: parsing, serialisation, compression, timeouts and
 * error encoding come from connect's own protocol functions, so the answer is
 * the same bytes. What this leaves out is connect's per-call async-iterator
 * pipeline, which dominates its CPU profile, and the Headers, abort signal and
 * URL of a call whose interceptors and implementation never read them.
 *
 * The folder, one job a file: admission (which requests are taken),
 * request-body (reading, and replaying for connect), answer (one call from
 * message to wire), invoke (interceptors and implementation), call-objects
 * (the request, response and context they see), call-state (each costly part
 * made on first use), wire (heads, framing, writing).
 */
export function createFastUnary(options: FastUnaryOptions): FastUnary {
  const settings: Settings = {
    ...options,
    negotiable: [...options.acceptCompression],
    ...validateReadWriteMaxBytes(options.readMaxBytes, undefined, undefined),
  };
  const routes = new Map<string, Route>();
  for (const spec of options.specs) {
    if (spec.kind !== "unary") throw new Error(`the fast path serves unary methods only, not ${spec.method.name}`);
    routes.set(`/${spec.method.parent.typeName}/${spec.method.name}`, {
      spec: spec as Route["spec"],
      serialization: createMethodSerializationLookup(spec.method, undefined, undefined, settings),
    });
  }

  return (req, res, fallback) => {
    if (req.method !== "POST") return false;
    const route = routes.get(req.url ?? "");
    if (!route) return false;
    const protocol = protocolOf(req);
    if (!protocol) return false;
    // Taken on arrival, as connect-node does: the transport facts are the connection's, not the body's.
    const values = settings.contextValues?.(req) ?? createContextValues();
    readBody(req, settings.readMaxBytes, (chunks, complete) => {
      const body = complete ? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) : undefined;
      const message = body && unaryMessage(protocol, body);
      if (message === undefined) {
        replayBody(req, chunks);
        fallback(req, res);
        return;
      }
      settings.onServed?.(route.spec.method.name);
      answer({ route, protocol, bytes: message, values }, req, res, settings).catch((error: unknown) => {
        // Only writing can fail here (the caller went away); connect-node drops such calls the same way.
        if (!res.headersSent) res.destroy(error instanceof Error ? error : undefined);
      });
    });
    return true;
  };
}
