"""Ask the Job Service for a job's state over gRPC with Python grpcio.

Builds the message classes at run time from a descriptor set of the project's
protos, so no generated stubs are needed:

    npx buf build -o /tmp/jobservice.binpb
    python3 examples/python/grpcio_client.py /tmp/jobservice.binpb 127.0.0.1:60003 QUEUE JOB_SET_ID JOB_ID

Prints the state name and the error text, tab-separated. Add --gzip to compress
the request as Go clients do, or --method NAME to call another method. When the
service checks callers, pass the credentials armadactl would send, e.g.
--authorization "Bearer $TOKEN" or --basic user:password.
"""
import argparse
import base64

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def message_class(descriptor):
    # GetMessageClass since protobuf 4.21; GetPrototype, its predecessor, is gone from protobuf 5.
    get_class = getattr(message_factory, "GetMessageClass", None)
    return get_class(descriptor) if get_class is not None else message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


def message_classes(descriptor_set_path):
    files = descriptor_pb2.FileDescriptorSet()
    with open(descriptor_set_path, "rb") as f:
        files.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    request = message_class(pool.FindMessageTypeByName("jobservice.JobServiceRequest"))
    response = message_class(pool.FindMessageTypeByName("jobservice.JobServiceResponse"))
    return request, response


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("descriptor_set")
    parser.add_argument("target")
    parser.add_argument("queue")
    parser.add_argument("job_set_id")
    parser.add_argument("job_id")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--method", default="GetJobStatus")
    parser.add_argument("--authorization", help="the authorization metadata, e.g. 'Bearer TOKEN'")
    parser.add_argument("--basic", metavar="USER:PASSWORD", help="basic credentials, sent as armadactl sends them")
    args = parser.parse_args()
    metadata = []
    if args.basic is not None:
        metadata.append(("authorization", "basic " + base64.b64encode(args.basic.encode()).decode()))
    elif args.authorization is not None:
        metadata.append(("authorization", args.authorization))

    Request, Response = message_classes(args.descriptor_set)
    with grpc.insecure_channel(args.target) as channel:
        get_job_status = channel.unary_unary(
            f"/jobservice.JobService/{args.method}",
            request_serializer=Request.SerializeToString,
            response_deserializer=Response.FromString,
        )
        compression = grpc.Compression.Gzip if args.gzip else grpc.Compression.NoCompression
        try:
            reply = get_job_status(
                Request(queue=args.queue, job_set_id=args.job_set_id, job_id=args.job_id),
                timeout=10,
                compression=compression,
                metadata=metadata,
            )
        except grpc.RpcError as error:
            print(f"{error.code().name}\t{error.details()}")
            return
        state = Response.DESCRIPTOR.enum_types_by_name["State"].values_by_number[reply.state].name
        print(f"{state}\t{reply.error}")


if __name__ == "__main__":
    main()
