import { Code, ConnectError } from "@connectrpc/connect";
import { compressionNegotiate } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { headerValue } from "../lazy-request-headers.js";
import { LazyCallState } from "./call-state.js";
import { invoke } from "./invoke.js";
import type { Call, Request, Response, Settings } from "./types.js";
import { CONNECT_JSON_HEAD, CONNECT_PROTO_HEAD, envelope, GRPC_OK, grpcHead, NO_TRAILERS, write } from "./wire.js";

const CALL_ANSWERED = new ConnectError("the call was answered", Code.Canceled);

/**
 * One call from its request message to the wire: connect's own timeout
 * parsing, compression negotiation, serialisation and error encoding, around
 * the interceptors and the implementation.
 */
export async function answer({ route, protocol, bytes, values }: Call, req: Request, res: Response, options: Settings): Promise<void> {
  const binary = protocol === "grpc" || req.headers["content-type"] === "application/proto";
  const timeout =
    protocol === "grpc"
      ? parseGrpcTimeout(headerValue(req.headers, "grpc-timeout"), Number.MAX_SAFE_INTEGER)
      : parseConnectTimeout(headerValue(req.headers, "connect-timeout-ms"), Number.MAX_SAFE_INTEGER);
  const compression =
    protocol === "grpc"
      ? compressionNegotiate(options.negotiable, null, headerValue(req.headers, "grpc-accept-encoding"), "grpc-accept-encoding")
      : compressionNegotiate(options.negotiable, null, headerValue(req.headers, "accept-encoding"), "accept-encoding");
  const responseHeader = protocol === "grpc" ? grpcHead(compression.response) : binary ? CONNECT_PROTO_HEAD : CONNECT_JSON_HEAD;
  const call = new LazyCallState({
    req,
    res,
    timeoutMs: timeout.timeoutMs,
    closed: "stream" in req ? req : res,
    responseHeader,
    responseTrailer: protocol === "grpc" ? GRPC_OK : NO_TRAILERS,
  });
  let body: Uint8Array;
  let status = 200;
  try {
    if (timeout.error) throw timeout.error;
    const input = route.serialization.getI(binary).parse(bytes);
    const output = await invoke(route.spec, protocol, call, input, values, options.interceptors);
    body = route.serialization.getO(binary).serialize(output);
    if (protocol === "grpc") body = await envelope(body, compression.response, options.compressMinBytes);
  } catch (error) {
    const failure = error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
    call.abort(failure);
    if (protocol === "grpc") {
      setTrailerStatus(call.responseTrailer, failure);
      body = new Uint8Array(0);
    } else {
      status = codeToHttpStatus(failure.code);
      call.responseHeader.set("content-type", "application/json");
      failure.metadata.forEach((value, key) => call.responseHeader.set(key, value));
      body = errorToJsonBytes(failure, {});
    }
  }
  // Ends the deadline timer and detaches the call's signal, as connect does once a call is answered;
  // with a reason made once, not a DOMException per call.
  call.abort(CALL_ANSWERED);
  let contentEncoding: string | undefined;
  if (protocol === "connect" && compression.response && body.byteLength >= options.compressMinBytes) {
    body = await compression.response.compress(body);
    contentEncoding = compression.response.name;
  }
  write(protocol, status, body, call.headersToWrite(protocol, contentEncoding, body.byteLength), res);
}
