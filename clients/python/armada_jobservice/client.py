"""Two clients of the Job Service with one small API:

    status(queue, job_set_id, job_id) -> JobStatus(state, error)
    get_job_statuses(queue, job_set_id, job_ids) -> {job_id: JobStatus}
    watch_job_status(queue, job_set_id, job_id, timeout) -> JobStatusWatch (yields JobStatus)
    health() -> "SERVING" | "NOT_SERVING" | "UNKNOWN"

`JobServiceClient` speaks Connect JSON over HTTP/1.1 with the standard library
only; `GrpcJobServiceClient` speaks gRPC with grpcio. Both raise
JobServiceError (with a Connect code name) when no answer comes back.
"""
import http.client
import json
import socket
import ssl
import struct
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import NamedTuple

from .errors import JobServiceError, resolve_authorization

SERVICE = "jobservice.JobService"

SUCCESS_STATES = frozenset({"SUCCEEDED"})
FAILURE_STATES = frozenset({"FAILED", "CANCELLED", "DUPLICATE_FOUND"})
TERMINAL_STATES = SUCCESS_STATES | FAILURE_STATES

# How long past a watch's deadline its socket waits for the server's end of the stream: a connection that
# died without a word (a host gone, a partition) is found out then, not never.
STREAM_GRACE_SECONDS = 5.0
# No answer of this service comes near it; a larger length prefix means something else is talking.
MAX_STREAM_MESSAGE_BYTES = 4 * 1024 * 1024


class JobStatus(NamedTuple):
    state: str
    error: str


class JobStatusWatch:
    """The answers of one WatchJobStatus call, each a JobStatus as it comes (iterating blocks until the
    next one). It stops after the terminal state; before it, a stream that ends raises JobServiceError:
    `deadline_exceeded` once the watch's timeout has passed, `unavailable` when the connection breaks,
    `unimplemented` from a server without the method. `close()`, from any thread, ends it: an iteration
    blocked in it stops (StopIteration) and the connection is released. Also a context manager."""

    def __init__(self, read_next, cancel, timeout):
        self._read_next = read_next  # () -> JobStatus, or None when the stream ended with OK
        self._cancel = cancel
        self._timeout = timeout
        self._closed = False
        self._last = None

    def __iter__(self):
        return self

    def __next__(self):
        if self._closed:
            raise StopIteration
        try:
            status = self._read_next()
        except JobServiceError:
            closed_here = self._closed
            self.close()
            if closed_here:
                raise StopIteration from None
            raise
        if status is not None:
            self._last = status
            return status
        self.close()
        if self._last is not None and self._last.state in TERMINAL_STATES:
            raise StopIteration
        # The service ends a Connect watch with OK when its deadline passes; gRPC clients see DEADLINE_EXCEEDED.
        raise JobServiceError("deadline_exceeded", f"the watch ended after its timeout of {self._timeout} s, before the job ended")

    def close(self):
        if not self._closed:
            self._closed = True
            self._cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Connect's code for an HTTP status when the body carries none (connectrpc.com/docs/protocol).
_HTTP_STATUS_CODES = {400: "internal", 401: "unauthenticated", 403: "permission_denied", 404: "unimplemented", 429: "unavailable", 502: "unavailable", 503: "unavailable", 504: "unavailable"}


def _status_from_json(reply):
    # SUBMITTED is the enum's zero value: proto3 JSON leaves it out.
    return JobStatus(reply.get("state", "SUBMITTED"), reply.get("error", ""))


def _job_id_list(job_ids):
    # A str is a sequence too: one id passed bare would become one id per character.
    if isinstance(job_ids, str):
        raise TypeError("job_ids must be a list of job ids, not one string")
    return list(job_ids)


class JobServiceClient:
    """Connect JSON over HTTP/1.1, standard library only. `url` is `http://host:port` or `https://…`."""

    def __init__(self, url, authorization=None, timeout=10.0):
        """`authorization`: the header value, or a callable returning it before each call (credentials.Credentials)."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"Job Service URL must be http://host:port or https://host:port, got {url!r}")
        self._base = url.rstrip("/")
        self._url = parsed
        self._authorization = authorization
        self._timeout = timeout

    def status(self, queue, job_set_id, job_id):
        return _status_from_json(self._call("GetJobStatus", {"queue": queue, "jobSetId": job_set_id, "jobId": job_id}))

    def get_job_statuses(self, queue, job_set_id, job_ids):
        """One GetJobStatuses call: {job_id: JobStatus} for each distinct id. More ids than the server's
        JOBSERVICE_MAX_BATCH_IDS (default 1,000) is `invalid_argument`; batch.StatusReader splits them."""
        reply = self._call("GetJobStatuses", {"queue": queue, "jobSetId": job_set_id, "jobIds": _job_id_list(job_ids)})
        return {job_id: _status_from_json(status) for job_id, status in reply.get("statuses", {}).items()}

    def watch_job_status(self, queue, job_set_id, job_id, timeout=None):
        """WatchJobStatus as a JobStatusWatch, over the Connect streaming protocol on HTTP/1.1. `timeout`
        (seconds) is the watch's deadline; None watches until the job ends, however long a silent
        connection takes. It connects when first iterated, directly (no HTTP proxy)."""
        stream = _ConnectStream(self, "WatchJobStatus", {"queue": queue, "jobSetId": job_set_id, "jobId": job_id}, timeout)
        return JobStatusWatch(lambda: stream.next_message(_status_from_json), stream.close, timeout)

    def health(self):
        return self._call("Health", {}).get("status", "UNKNOWN")

    def _headers(self, content_type, timeout):
        headers = {"content-type": content_type, "connect-protocol-version": "1"}
        if timeout is not None:
            headers["connect-timeout-ms"] = str(max(1, int(timeout * 1000)))
        authorization = resolve_authorization(self._authorization, JobServiceError)
        if authorization:
            headers["authorization"] = authorization
        return headers

    def _unreachable(self, reason):
        return JobServiceError("unavailable", f"cannot reach the Job Service at {self._base}: {reason}")

    def _call(self, method, body):
        headers = self._headers("application/json", self._timeout)
        request = urllib.request.Request(f"{self._base}/{SERVICE}/{method}", data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise _connect_error(error) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as error:
            raise self._unreachable(getattr(error, "reason", error)) from None
        except ValueError as error:  # not JSON: something else answered
            raise JobServiceError("unknown", f"the Job Service at {self._base} sent a reply that is not JSON: {error}") from None


def _connect_error(error):
    return _error_from_body(error.code, error.read())


def _error_from_body(http_status, raw):
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = body.get("code") or _HTTP_STATUS_CODES.get(http_status, "unknown")
    return JobServiceError(code, body.get("message") or f"HTTP {http_status}")


class _ConnectStream:
    """One Connect server stream (connectrpc.com/docs/protocol#streaming-rpcs) on its own HTTP/1.1
    connection: the request is one enveloped JSON message; the response is enveloped messages (a flags
    byte, a 4-byte big-endian length, the JSON), the last with flag 0x02 carrying {"error": …} or not.
    Read as it comes, so that each answer is seen when it is sent."""

    _END_STREAM = 0x02
    _COMPRESSED = 0x01

    def __init__(self, client, method, body, timeout):
        self._client = client
        self._method = method
        self._body = body
        self._timeout = timeout
        self._lock = threading.Lock()
        self._connection = None
        self._response = None
        self._closed = False
        self._reading = False

    def next_message(self, decode):
        """The next message decoded, or None after an end of stream with OK; raises JobServiceError."""
        with self._lock:
            if self._closed:
                raise _closed()
            self._reading = True
        try:
            flags, payload = self._read_next()
        except JobServiceError:
            if self._closed:
                raise _closed() from None
            raise
        finally:
            with self._lock:
                self._reading = False
                closed = self._closed
            if closed and self._connection is not None:
                self._connection.close()  # close() came during the read and left this to the reader
        return self._decode(flags, payload, decode)

    def close(self):
        """Ends the stream from any thread. Shutting the socket down wakes a read blocked on it; the
        reading thread then closes the connection (closing it under that read would break http.client)."""
        with self._lock:
            self._closed = True
            connection = self._connection
            reading = self._reading
        if connection is None:
            return
        if connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the other side
        if not reading:
            connection.close()

    def _read_next(self):
        base = self._client._base
        try:
            if self._response is None:
                self._response = self._start()
            return self._read_envelope()
        except socket.timeout:
            raise JobServiceError("deadline_exceeded", f"no word from the Job Service at {base} within {self._timeout} s and {STREAM_GRACE_SECONDS:.0f} s grace") from None
        except (OSError, http.client.HTTPException) as error:
            raise JobServiceError("unavailable", f"the stream from the Job Service at {base} broke: {error!r}") from None

    def _start(self):
        url = self._client._url
        https = url.scheme == "https"
        connection_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
        extra = {"context": ssl.create_default_context()} if https else {}
        connection = connection_class(url.hostname, url.port, timeout=self._client._timeout, **extra)
        with self._lock:
            self._connection = connection
        try:
            connection.connect()
        except OSError as error:
            raise self._client._unreachable(error) from None
        if self._closed:  # closed while connecting, when there was no socket yet to shut down
            raise _closed()
        # Connected within the client's timeout; from here the stream may stay silent until its deadline.
        connection.sock.settimeout(None if self._timeout is None else self._timeout + STREAM_GRACE_SECONDS)
        payload = json.dumps(self._body).encode()
        path = f"{url.path.rstrip('/')}/{SERVICE}/{self._method}"
        connection.request("POST", path, body=struct.pack(">BI", 0, len(payload)) + payload, headers=self._client._headers("application/connect+json", self._timeout))
        response = connection.getresponse()
        if response.status != 200:
            raise _error_from_body(response.status, response.read())
        content_type = response.getheader("content-type", "")
        if not content_type.startswith("application/connect+json"):
            raise JobServiceError("unknown", f"the Job Service at {self._client._base} answered a stream with content-type {content_type!r}")
        return response

    def _read_envelope(self):
        flags, length = struct.unpack(">BI", self._read_exactly(5))
        if length > MAX_STREAM_MESSAGE_BYTES or flags & self._COMPRESSED:
            raise JobServiceError("internal", f"the Job Service at {self._client._base} sent a stream message this client cannot read (flags {flags}, {length} bytes)")
        return flags, self._read_exactly(length)

    def _read_exactly(self, count):
        data = self._response.read(count)
        if len(data) < count:
            raise JobServiceError("unavailable", f"the stream from the Job Service at {self._client._base} ended before its end-of-stream message")
        return data

    def _decode(self, flags, payload, decode):
        try:
            message = json.loads(payload)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise JobServiceError("unknown", f"the Job Service at {self._client._base} sent a stream message that is not a JSON object")
        if not flags & self._END_STREAM:
            return decode(message)
        error = message.get("error")
        if isinstance(error, dict):
            raise JobServiceError(error.get("code", "unknown"), error.get("message", ""))
        return None


def _closed():
    return JobServiceError("cancelled", "the watch was closed")


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
        self._get_job_statuses = self._channel.unary_unary(
            f"/{SERVICE}/GetJobStatuses",
            request_serializer=protos.JobStatusesRequest.SerializeToString,
            response_deserializer=protos.JobStatusesResponse.FromString,
        )
        self._watch_job_status = self._channel.unary_stream(
            f"/{SERVICE}/WatchJobStatus",
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
        return self._status_of(self._invoke(self._get_job_status, request))

    def get_job_statuses(self, queue, job_set_id, job_ids):
        """One GetJobStatuses call; see JobServiceClient.get_job_statuses."""
        request = self._protos.JobStatusesRequest(queue=queue, job_set_id=job_set_id, job_ids=_job_id_list(job_ids))
        reply = self._invoke(self._get_job_statuses, request)
        return {job_id: self._status_of(status) for job_id, status in reply.statuses.items()}

    def watch_job_status(self, queue, job_set_id, job_id, timeout=None):
        """WatchJobStatus as a JobStatusWatch, on grpcio's own streaming; see JobServiceClient.watch_job_status."""
        import grpc

        request = self._protos.JobServiceRequest(queue=queue, job_set_id=job_set_id, job_id=job_id)
        call = self._watch_job_status(request, timeout=timeout, metadata=self._metadata)

        def read_next():
            try:
                return self._status_of(next(call))
            except StopIteration:
                return None
            except grpc.RpcError as error:
                raise rpc_error(JobServiceError, error) from None

        return JobStatusWatch(read_next, call.cancel, timeout)

    def _status_of(self, reply):
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
