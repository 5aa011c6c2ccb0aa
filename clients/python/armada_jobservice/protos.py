"""Message classes for the project's protos, built from the descriptor set that
`npx buf build` makes from proto/ (descriptors.binpb, shipped in the package).

They live in a private descriptor pool rather than protobuf's default one: an
Airflow installation that also has Armada's own Python client defines the same
`api.*` names there, and two definitions of one name in a pool fail at import.
"""
from importlib import resources

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_POOL = descriptor_pool.DescriptorPool()
_files = descriptor_pb2.FileDescriptorSet()
_files.ParseFromString(resources.files(__package__).joinpath("descriptors.binpb").read_bytes())
for _file in _files.file:  # buf writes every file after its imports
    _POOL.AddSerializedFile(_file.SerializeToString())


def message_class(full_name):
    descriptor = _POOL.FindMessageTypeByName(full_name)
    get_class = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.21
    if get_class is not None:
        return get_class(descriptor)
    return message_factory.MessageFactory(_POOL).GetPrototype(descriptor)


def enum_name(message_class_, enum, number):
    """The name of `number` in the enum `enum` nested in `message_class_`."""
    return message_class_.DESCRIPTOR.enum_types_by_name[enum].values_by_number[number].name


JobServiceRequest = message_class("jobservice.JobServiceRequest")
JobServiceResponse = message_class("jobservice.JobServiceResponse")
JobStatusesRequest = message_class("jobservice.JobStatusesRequest")
JobStatusesResponse = message_class("jobservice.JobStatusesResponse")
JobServiceHealthResponse = message_class("jobservice.HealthCheckResponse")
Empty = message_class("google.protobuf.Empty")
JobSubmitRequest = message_class("api.JobSubmitRequest")
JobSubmitResponse = message_class("api.JobSubmitResponse")
JobCancelRequest = message_class("api.JobCancelRequest")
CancellationResult = message_class("api.CancellationResult")
JobSetRequest = message_class("api.JobSetRequest")
EventStreamMessage = message_class("api.EventStreamMessage")
