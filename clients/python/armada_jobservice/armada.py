"""The few Armada calls the operator needs, over gRPC with grpcio:
submit a job, cancel it, and find the jobs an earlier attempt submitted."""
from typing import NamedTuple

from .client import grpc_channel, rpc_error
from .errors import ArmadaError, resolve_authorization


class SubmittedJob(NamedTuple):
    job_id: str
    client_id: str
    # When Armada recorded the submission, seconds since the epoch.
    submitted_at: float


class ArmadaClient:
    """`url` is Armada's gRPC API, `http://host:port` (cleartext) or `https://…`;
    `authorization` the header value (see auth.authorization_header), or a callable returning it
    before each call (credentials.Credentials)."""

    def __init__(self, url, authorization=None, timeout=30.0):
        from . import protos

        self._protos = protos
        self._channel = grpc_channel(url)
        self._authorization = authorization
        self._timeout = timeout
        self._submit = self._channel.unary_unary(
            "/api.Submit/SubmitJobs",
            request_serializer=protos.JobSubmitRequest.SerializeToString,
            response_deserializer=protos.JobSubmitResponse.FromString,
        )
        self._cancel = self._channel.unary_unary(
            "/api.Submit/CancelJobs",
            request_serializer=protos.JobCancelRequest.SerializeToString,
            response_deserializer=protos.CancellationResult.FromString,
        )
        self._events = self._channel.unary_stream(
            "/api.Event/GetJobSetEvents",
            request_serializer=protos.JobSetRequest.SerializeToString,
            response_deserializer=protos.EventStreamMessage.FromString,
        )

    def submit(self, queue, job_set_id, item):
        """Submits one job; `item` holds JobSubmitRequestItem fields: priority, namespace, labels,
        annotations, client_id and pod_specs (serialized k8s PodSpecs, or messages that serialize)."""
        fields = dict(item)
        fields["pod_specs"] = [spec if isinstance(spec, bytes) else spec.SerializeToString() for spec in fields.get("pod_specs", [])]
        request = self._protos.JobSubmitRequest(queue=queue, job_set_id=job_set_id, job_request_items=[fields])
        reply = self._invoke(lambda: self._submit(request, timeout=self._timeout, metadata=self._metadata()))
        [answer] = reply.job_response_items
        if answer.error:
            raise ArmadaError("invalid_argument", f"Armada rejected the job: {answer.error}")
        return answer.job_id

    def cancel(self, queue, job_set_id, job_id, reason):
        """Cancels one job; returns the ids Armada cancelled (none if it had already ended)."""
        request = self._protos.JobCancelRequest(queue=queue, job_set_id=job_set_id, job_ids=[job_id], reason=reason)
        return list(self._invoke(lambda: self._cancel(request, timeout=self._timeout, metadata=self._metadata())).cancelled_ids)

    def submitted_jobs(self, queue, job_set_id, client_id_prefix):
        """Every job of the job set whose client id starts with the prefix, oldest first, as the
        job set's event history tells (watch=false: the backlog, then the stream ends)."""
        request = self._protos.JobSetRequest(id=job_set_id, queue=queue, watch=False)

        def read():
            found = []
            for message in self._events(request, timeout=self._timeout, metadata=self._metadata()):
                if message.message.WhichOneof("events") != "submitted":
                    continue
                event = message.message.submitted
                if event.job.client_id.startswith(client_id_prefix):
                    found.append(SubmittedJob(event.job_id, event.job.client_id, event.created.seconds + event.created.nanos / 1e9))
            return found

        return self._invoke(read)

    def _metadata(self):
        authorization = resolve_authorization(self._authorization, ArmadaError)
        return (("authorization", authorization),) if authorization else ()

    def close(self):
        self._channel.close()

    @staticmethod
    def _invoke(call):
        import grpc

        try:
            return call()
        except grpc.RpcError as error:
            raise rpc_error(ArmadaError, error) from None
