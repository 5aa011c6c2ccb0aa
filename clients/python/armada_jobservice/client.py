"""Two clients of the Job Service with one small API:

    status(queue, job_set_id, job_id) -> JobStatus(state, error)
    health() -> "SERVING" | "NOT_SERVING" | "UNKNOWN"

`JobServiceClient` speaks Connect JSON over HTTP/1.1 with the standard library
only; `GrpcJobServiceClient` speaks gRPC with grpcio. Both raise
JobServiceError (with a Connect code name) when no answer comes back.
"""
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import NamedTuple

from .errors import JobServiceError

SERVICE = "jobservice.JobService"


class JobStatus(NamedTuple):
    state: str
    error: str


# Connect's code for an HTTP status when the body carries none (connectrpc.com/docs/protocol).
_HTTP_STATUS_CODES = {400: "internal", 401: "unauthenticated", 403: "permission_denied", 404: "unimplemented", 429: "unavailable", 502: "unavailable", 503: "unavailable", 504: "unavailable"}


def _status_from_json(reply):
    # SUBMITTED is the enum's zero value: proto3 JSON leaves it out.
    return JobStatus(reply.get("state", "SUBMITTED"), reply.get("error", ""))


class JobServiceClient:
    """Connect JSON over HTTP/1.1, standard library only. `url` is `http://host:port` or `https://…`."""

    def __init__(self, url, authorization=None, timeout=10.0):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"Job Service URL must be http://host:port or https://host:port, got {url!r}")
        self._base = url.rstrip("/")
        self._authorization = authorization
        self._timeout = timeout

    def status(self, queue, job_set_id, job_id):
        return _status_from_json(self._call("GetJobStatus", {"queue": queue, "jobSetId": job_set_id, "jobId": job_id}))

    def health(self):
        return self._call("Health", {}).get("status", "UNKNOWN")

    def _call(self, method, body):
        headers = {
            "content-type": "application/json",
            "connect-protocol-version": "1",
            "connect-timeout-ms": str(int(self._timeout * 1000)),
        }
        if self._authorization:
            headers["authorization"] = self._authorization
        request = urllib.request.Request(f"{self._base}/{SERVICE}/{method}", data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise _connect_error(error) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise JobServiceError("unavailable", f"cannot reach the Job Service at {self._base}: {reason}") from None
        except ValueError as error:  # not JSON: something else answered
            raise JobServiceError("unknown", f"the Job Service at {self._base} sent a reply that is not JSON: {error}") from None


def _connect_error(error):
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        body = {}
    code = body.get("code") or _HTTP_STATUS_CODES.get(error.code, "unknown")
    return JobServiceError(code, body.get("message") or f"HTTP {error.code}")


def grpc_channel(url):
    """A grpcio channel for `http://host:port` (cleartext HTTP/2) or `https://host:port` (TLS, system roots)."""
    import grpc

    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"URL must be http://host:port or https://host:port, got {url!r}")
    target = f"{parsed.hostname}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"
    if parsed.scheme == "https":
        return grpc.secure_channel(target, grpc.ssl_channel_credentials())
    return grpc.insecure_channel(target)


def rpc_error(error_class, error):
    """A grpc.RpcError as one of this package's errors."""
    return error_class(error.code().name.lower(), error.details() or "")


class GrpcJobServiceClient:
    """gRPC with grpcio, on message classes built from the project's protos (see protos.py)."""

    def __init__(self, url, authorization=None, timeout=10.0):
        from . import protos

        self._protos = protos
        self._channel = grpc_channel(url)
        self._metadata = (("authorization", authorization),) if authorization else ()
        self._timeout = timeout
        self._get_job_status = self._channel.unary_unary(
            f"/{SERVICE}/GetJobStatus",
            request_serializer=protos.JobServiceRequest.SerializeToString,
            response_deserializer=protos.JobServiceResponse.FromString,
        )
        self._health = self._channel.unary_unary(
            f"/{SERVICE}/Health",
            request_serializer=protos.Empty.SerializeToString,
            response_deserializer=protos.JobServiceHealthResponse.FromString,
        )

    def status(self, queue, job_set_id, job_id):
        request = self._protos.JobServiceRequest(queue=queue, job_set_id=job_set_id, job_id=job_id)
        reply = self._invoke(self._get_job_status, request)
        return JobStatus(self._protos.enum_name(self._protos.JobServiceResponse, "State", reply.state), reply.error)

    def health(self):
        reply = self._invoke(self._health, self._protos.Empty())
        return self._protos.enum_name(self._protos.JobServiceHealthResponse, "ServingStatus", reply.status)

    def close(self):
        self._channel.close()

    def _invoke(self, method, request):
        import grpc

        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise rpc_error(JobServiceError, error) from None
