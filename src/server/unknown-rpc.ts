import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

type Fallback = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
type Request = Parameters<Fallback>[0];
type Response = Parameters<Fallback>[1];

/**
 * Answers a request for a method we do not serve in the caller's own
 * protocol. gRPC clients must see UNIMPLEMENTED (status 12) in a normal 200
 * response: a bare HTTP 404 makes grpcio report a protocol error instead.
 * Returns false for requests that are not RPCs at all.
 */
export function answerUnknownRpc(req: Request, res: Response): boolean {
  const contentType = String(req.headers["content-type"] ?? "");
  const message = `method ${req.url ?? ""} is not implemented`;
  if (contentType.startsWith("application/grpc")) {
    // A trailers-only response: status in the headers, no body. Over HTTP/2
    // it must be one HEADERS frame that ends the stream, or grpcio reports
    // "Stream removed" instead of the status.
    const headers = { "content-type": contentType, "grpc-status": "12", "grpc-message": encodeURIComponent(message) };
    if ("stream" in res && res.stream) res.stream.respond({ ":status": 200, ...headers }, { endStream: true });
    else {
      res.writeHead(200, headers);
      res.end();
    }
    return true;
  }
  const isConnect = req.method === "POST" && /^application\/(connect\+)?(json|proto)/.test(contentType);
  if (isConnect) {
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ code: "unimplemented", message }));
    return true;
  }
  return false;
}
