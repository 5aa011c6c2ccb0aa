"""armada-airflow 0.5.6's own operators, unchanged, in real Airflow 2: one DAG per operator, built the way
its example DAGs build them, each with a task per job outcome, run against the simulator (Armada) and
the job service. Prints each task's final state as JSON.

ArmadaOperator runs under `dag.test()`. ArmadaDeferrableOperator cannot: Airflow 2's `dag.test()`
resumes a deferred task with only the trigger's event, dropping the `kwargs` given to `defer()`,
and this operator resumes with `job_id` from there. So it runs the way a scheduler and a triggerer
run it, through Airflow's own calls: `TaskInstance.run` defers and stores the trigger; the trigger
is rebuilt from its stored row as the triggerer does and run to its event; `Trigger.submit_event`
hands the event back; `TaskInstance.run` resumes the task.

Usage: python original_operator_dags.py ARMADA_HOST:PORT JOBSERVICE_HOST:PORT QUEUE
"""

import json
import sys

import asyncio
import logging

import pendulum
from airflow import DAG
from airflow.jobs.triggerer_job_runner import TriggerRunner
from airflow.models.trigger import Trigger
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from airflow.utils.types import DagRunType
from armada.operators.armada import ArmadaOperator
from armada.operators.armada_deferrable import ArmadaDeferrableOperator
from armada_client.armada import submit_pb2
from armada_client.k8s.io.api.core.v1 import generated_pb2 as core_v1
from armada_client.k8s.io.apimachinery.pkg.api.resource import generated_pb2 as api_resource

# What each task's job is steered to do in the simulator (see docs/simulator.md).
OUTCOMES = {
    "succeeds": {"armada-sim/outcome": "succeeded"},
    "fails": {"armada-sim/exit-code": "1", "armada-sim/reason": "exit status 1"},
    "is_cancelled": {"armada-sim/outcome": "cancelled"},
}


def sleep_job(annotations):
    """A job the way the examples write one: a PodSpec with one container, in a JobSubmitRequestItem."""
    resources = {"cpu": api_resource.Quantity(string="100m"), "memory": api_resource.Quantity(string="64Mi")}
    pod = core_v1.PodSpec(
        containers=[
            core_v1.Container(
                name="sleep",
                image="busybox",
                args=["sleep", "1"],
                securityContext=core_v1.SecurityContext(runAsUser=1000),
                resources=core_v1.ResourceRequirements(requests=resources, limits=resources),
            )
        ],
    )
    return [submit_pb2.JobSubmitRequestItem(priority=1, pod_spec=pod, namespace="default", annotations=annotations)]


def build_dag(dag_id, operator, armada_target, jobservice_target, queue):
    with DAG(dag_id=dag_id, start_date=pendulum.datetime(2016, 1, 1, tz="UTC"), schedule=None, catchup=False) as dag:
        for task, annotations in OUTCOMES.items():
            operator(
                task_id=task,
                name=task,
                armada_queue=queue,
                armada_channel_args={"target": armada_target},
                job_service_channel_args={"target": jobservice_target},
                job_request_items=sleep_job(dict(annotations)),
                lookout_url_template="http://127.0.0.1:8089/jobs?job_id=<job_id>",
                poll_interval=1,
            )
    return dag


async def first_event(trigger):
    async for event in trigger.run():
        return event


def run_deferrable(dag):
    """One DAG run, each task deferred, its trigger run as the triggerer would, and resumed."""
    dag.sync_to_db()
    now = pendulum.now("UTC")
    run = dag.create_dagrun(
        run_id=f"manual__{now.isoformat()}",
        run_type=DagRunType.MANUAL,
        execution_date=now,
        data_interval=(now, now),
        state=DagRunState.RUNNING,
        external_trigger=True,
    )
    for ti in run.get_task_instances():
        ti.task = dag.get_task(ti.task_id)
        ti.run(ignore_all_deps=True)
        if ti.state != TaskInstanceState.DEFERRED:
            continue
        with create_session() as session:
            row = session.get(Trigger, ti.trigger_id)
            trigger = TriggerRunner().get_trigger_by_classpath(row.classpath)(**row.kwargs)
        Trigger.submit_event(trigger_id=ti.trigger_id, event=asyncio.run(first_event(trigger)))
        ti.refresh_from_db()
        ti.run(ignore_all_deps=True)
    return run


class FinishedJobs(logging.Handler):
    """What each operator logs when its job has ended: "Armada Job finished with <state> and message: Armada <name>:<id> ..."."""

    def __init__(self):
        super().__init__()
        self.seen = {}

    def emit(self, record):
        if str(record.msg).startswith("Armada Job finished with"):
            state, message = record.args[0], str(record.args[1])
            name = message.removeprefix("Armada ").split(":", 1)[0]
            self.seen[name] = {"job_state": str(state), "is_enum": not isinstance(state, str)}


def main(armada_target, jobservice_target, queue):
    states = {}
    runs = {
        "hello_armada": lambda: build_dag("hello_armada", ArmadaOperator, armada_target, jobservice_target, queue).test(),
        "hello_armada_deferrable": lambda: run_deferrable(
            build_dag("hello_armada_deferrable", ArmadaDeferrableOperator, armada_target, jobservice_target, queue)
        ),
    }
    for dag_id, start in runs.items():
        finished = FinishedJobs()
        logging.getLogger("airflow.task").addHandler(finished)
        try:
            run = start()
        finally:
            logging.getLogger("airflow.task").removeHandler(finished)
        tasks = {ti.task_id: {"state": ti.state, **finished.seen.get(ti.task_id, {})} for ti in run.get_task_instances()}
        states[dag_id] = {"run_id": run.run_id, "tasks": tasks}
    print(json.dumps(states))


if __name__ == "__main__":
    main(*sys.argv[1:4])
