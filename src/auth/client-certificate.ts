import { X509Certificate } from "node:crypto";
import type { Http2ServerRequest } from "node:http2";
import type { IncomingMessage } from "node:http";
import { TLSSocket } from "node:tls";
import type { CallTransport } from "./identity.js";

/**
 * What the connection says about the caller: its address and, over TLS with
 * client certificates requested, the certificate's subject when it chains to
 * JOBSERVICE_TLS_CLIENT_CA_FILE. The subject is written as its RDNs joined by
 * commas in certificate order, e.g. `CN=airflow,O=data-eng`.
 */
export function callTransportOf(req: IncomingMessage | Http2ServerRequest): CallTransport {
  const socket = "stream" in req && req.stream ? req.stream.session?.socket : req.socket;
  const remoteAddress = socket?.remoteAddress ?? "";
  if (!(socket instanceof TLSSocket)) return { remoteAddress };
  const peer = socket.getPeerCertificate(false);
  if (!peer || !peer.raw) return { remoteAddress };
  if (!socket.authorized) return { remoteAddress, certificate: { verified: false, reason: String(socket.authorizationError ?? "not trusted") } };
  return { remoteAddress, certificate: { verified: true, subject: subjectOf(peer.raw) } };
}

export function subjectOf(der: Buffer): string {
  return new X509Certificate(der).subject.split("\n").join(",");
}
