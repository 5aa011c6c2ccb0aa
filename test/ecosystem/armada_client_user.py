"""Drives an Armada at TARGET with armada-client exactly as its documentation shows a user doing it.

Prints one JSON object: what each call answered, and the events of each job set as
unmarshal_event_response saw them, so the test can hold them against the simulator.
Usage: python armada_client_user.py HOST:PORT QUEUE
"""

import json
import sys

import grpc
from armada_client.client import ArmadaClient
from armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1
from armada_client.k8s.io.apimachinery.pkg.api.resource import generated_pb2 as api_resource

TERMINAL = {"succeeded", "failed", "cancelled"}


def pod_spec(command):
    resources = {"cpu": api_resource.Quantity(string="100m"), "memory": api_resource.Quantity(string="64Mi")}
    return core_v1.PodSpec(
        restartPolicy="Never",
        containers=[
            core_v1.Container(
                name="main",
                image="busybox:1.36",
                args=["sh", "-c", command],
                resources=core_v1.ResourceRequirements(requests=resources, limits=resources),
            )
        ],
    )


def job(client, command, **annotations):
    steering = {f"armada-sim/{key.replace('_', '-')}": value for key, value in annotations.items()}
    return client.create_job_request_item(priority=1, namespace="default", pod_spec=pod_spec(command), annotations=steering)


def code_of(call):
    try:
        call()
        return "OK"
    except grpc.RpcError as error:
        return error.code().name


def follow(client, queue, job_set_id, job_count):
    """Reads the job set's events until each of its jobs has ended."""
    events, ended = [], set()
    stream = client.get_job_events_stream(queue=queue, job_set_id=job_set_id)
    for message in stream:
        event = client.unmarshal_event_response(message)
        events.append({"id": event.id, "type": event.type.value, "job_id": event.message.job_id})
        if event.type.value in TERMINAL:
            ended.add(event.message.job_id)
        if len(ended) == job_count:
            break
    client.unwatch_events(stream)
    return events


def main(target, queue):
    channel = grpc.insecure_channel(target)
    client = ArmadaClient(channel)
    report = {"submit_health": client.submit_health().status}
    report["event_health"] = client.event_health().status
    report["create_queue"] = code_of(lambda: client.create_queue(client.create_queue_request(name=queue, priority_factor=1)))
    report["create_queue_again"] = code_of(lambda: client.create_queue(client.create_queue_request(name=queue, priority_factor=1)))

    submitted = client.submit_jobs(
        queue=queue,
        job_set_id="outcomes",
        job_request_items=[
            job(client, "exit 0", outcome="succeeded"),
            job(client, "exit 3", exit_code="3", reason="exit status 3"),
            job(client, "sleep 3600", duration_ms="600000"),
        ],
    )
    ids = [item.job_id for item in submitted.job_response_items]
    report["submitted"] = ids
    report["cancel_jobs"] = list(client.cancel_jobs(queue=queue, job_set_id="outcomes", job_id=ids[2]).cancelled_ids)
    report["outcomes"] = follow(client, queue, "outcomes", len(ids))

    whole = client.submit_jobs(queue=queue, job_set_id="whole", job_request_items=[job(client, "sleep 3600", duration_ms="600000") for _ in range(2)])
    report["whole_submitted"] = [item.job_id for item in whole.job_response_items]
    client.cancel_jobset(queue=queue, job_set_id="whole", filter_states=[])
    report["whole"] = follow(client, queue, "whole", 2)

    report["submit_unknown_queue"] = code_of(lambda: client.submit_jobs(queue="no-such-queue", job_set_id="x", job_request_items=[job(client, "true")]))
    report["get_queue"] = code_of(lambda: client.get_queue(name=queue))
    channel.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
