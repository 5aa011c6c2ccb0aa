"""Call any Job Service method over gRPC with Python grpcio, requests and replies as JSON.

Builds the message classes at run time from a descriptor set of the project's
protos, so no generated stubs are needed:

    npx buf build -o /tmp/jobservice.binpb
    python3 examples/python/grpcio_api.py /tmp/jobservice.binpb 127.0.0.1:60003 GetJobStatuses \
        '{"queue": "q", "jobSetId": "s", "jobIds": ["a", "b"]}'

Prints each reply (one for unary methods, each message of a stream) as one
line of JSON. A stream is read until it ends or --timeout seconds pass; an RPC
error prints its code and details, tab-separated.
"""
import argparse
import json

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

SERVICE = "jobservice.JobService"


def message_class(descriptor):
    # GetMessageClass since protobuf 4.21; GetPrototype, its predecessor, is gone from protobuf 5.
    get_class = getattr(message_factory, "GetMessageClass", None)
    return get_class(descriptor) if get_class is not None else message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


def load_method(descriptor_set_path, name):
    files = descriptor_pb2.FileDescriptorSet()
    with open(descriptor_set_path, "rb") as f:
        files.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    method = pool.FindServiceByName(SERVICE).FindMethodByName(name)
    return method, message_class(method.input_type), message_class(method.output_type)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("descriptor_set")
    parser.add_argument("target")
    parser.add_argument("method")
    parser.add_argument("request", help="the request message as JSON")
    parser.add_argument("--timeout", type=float, default=10)
    args = parser.parse_args()

    method, Request, Response = load_method(args.descriptor_set, args.method)
    request = json_format.Parse(args.request, Request())
    path = f"/{SERVICE}/{args.method}"
    with grpc.insecure_channel(args.target) as channel:
        call = (channel.unary_stream if method.server_streaming else channel.unary_unary)(
            path, request_serializer=Request.SerializeToString, response_deserializer=Response.FromString
        )
        try:
            replies = call(request, timeout=args.timeout)
            for reply in replies if method.server_streaming else [replies]:
                print(json.dumps(json_format.MessageToDict(reply), sort_keys=True), flush=True)
        except grpc.RpcError as error:
            print(f"{error.code().name}\t{error.details()}")


if __name__ == "__main__":
    main()
