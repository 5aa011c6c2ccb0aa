"""Today's Armada Airflow operator (armada-airflow 1.x), unchanged, with its one
gRPC channel pointed at the job service instead of Armada: submits and cancels
pass through to Armada, status polls are answered from the service's cache."""

import os

import pendulum
from airflow import DAG
from armada.model import GrpcChannelArgs
from armada.operators.armada import ArmadaOperator
from armada_client.armada import submit_pb2
from armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1
from armada_client.k8s.io.apimachinery.pkg.api.resource import generated_pb2 as api_resource

# The job service's address (host:port), where Armada's would go.
TARGET = os.environ.get("JOBSERVICE_TARGET", "localhost:60003")
QUEUE = os.environ.get("ARMADA_QUEUE", "airflow")
# Annotations for the job (the tests steer the Armada simulator's outcome with them).
ANNOTATIONS = dict(item.split("=", 1) for item in os.environ.get("JOB_ANNOTATIONS", "").split(",") if item)
DEFERRABLE = os.environ.get("DEFERRABLE", "false") == "true"


def job_request() -> submit_pb2.JobSubmitRequestItem:
    resources = {"cpu": api_resource.Quantity(string="100m"), "memory": api_resource.Quantity(string="64Mi")}
    pod = core_v1.PodSpec(
        restartPolicy="Never",
        containers=[
            core_v1.Container(
                name="main",
                image="busybox:1.36",
                args=["sh", "-c", "echo hello"],
                resources=core_v1.ResourceRequirements(requests=resources, limits=resources),
            )
        ],
    )
    return submit_pb2.JobSubmitRequestItem(priority=1, namespace="default", pod_spec=pod, annotations=ANNOTATIONS)


with DAG(dag_id="armada_via_jobservice", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), schedule=None, catchup=False) as dag:
    ArmadaOperator(
        task_id="run_on_armada",
        name="run_on_armada",
        channel_args=GrpcChannelArgs(target=TARGET),
        armada_queue=QUEUE,
        job_request=job_request(),
        poll_interval=1,
        deferrable=DEFERRABLE,
        reattach_policy=os.environ.get("REATTACH_POLICY", "never"),
    )
