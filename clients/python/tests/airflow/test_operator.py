"""The operator's methods and the trigger, called as Airflow calls them, on real Airflow's
BaseOperator, BaseTrigger, TaskDeferred and connections, against the live Job Service and the
Armada simulator. (Whole DAG runs are in test_dag_runs.py; these reach what a DAG run cannot steer:
a worker dying mid-task, a kill, the triggerer's own serializer.)"""
import asyncio
import importlib
import threading
import time
from dataclasses import asdict

import pytest

from airflow_env import AIRFLOW_3, CONN_ID, airflow_db, armada_connection, connection_uri_json  # noqa: F401  (fixtures)

from airflow.models.trigger import Trigger  # noqa: E402

from armada_jobservice import ArmadaError, TrackedJob  # noqa: E402
from armada_jobservice.operator import AirflowException, ArmadaJobOperator, ArmadaJobTrigger  # noqa: E402

if AIRFLOW_3:
    from airflow.sdk.exceptions import TaskDeferred
else:
    from airflow.exceptions import TaskDeferred

from conftest import QUEUE  # noqa: E402
from helpers import armada, jobservice_client, rpc_calls, simulator_jobs, until  # noqa: E402


class TaskInstance:
    """The part of the task instance in `context["ti"]` the operator reads (a real one needs a running task)."""

    def __init__(self, run_id, task_id="armada_task", map_index=-1):
        self.dag_id, self.task_id, self.run_id, self.map_index = "example_dag", task_id, run_id, map_index
        self.xcom = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value


def operator(armada_url, jobservice, annotations, **kwargs):
    return ArmadaJobOperator(
        task_id="armada_task", armada_queue=QUEUE, job_request_item={"annotations": annotations}, armada_conn_id=CONN_ID, poll_interval=0.05, **kwargs,
    )


def test_execute_waits_for_success_and_returns_the_job_id(armada_url, jobservice):
    ti = TaskInstance("op-success")
    job_id = operator(armada_url, jobservice, {"armada-sim/duration-ms": "100"}).execute({"ti": ti})
    assert job_id == ti.xcom["armada_job_id"]
    assert jobservice_client(jobservice).status(QUEUE, "op-success", job_id).state == "SUCCEEDED"


def test_execute_fails_the_task_with_the_jobs_reason(armada_url, jobservice):
    op = operator(armada_url, jobservice, {"armada-sim/exit-code": "3", "armada-sim/reason": "disk full", "armada-sim/duration-ms": "20"})
    with pytest.raises(AirflowException, match="ended FAILED: disk full"):
        op.execute({"ti": TaskInstance("op-failure")})


def test_deferrable_execute_hands_a_serializable_trigger_that_yields_the_outcome(armada_url, jobservice):
    ti = TaskInstance("op-deferred")
    op = operator(armada_url, jobservice, {"armada-sim/duration-ms": "100"}, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    assert deferred.value.method_name == "execute_complete"
    # What Airflow does: store the trigger as a Trigger row (its serializer, encrypted kwargs), and
    # the triggerer rebuilds it from the row's class path and kwargs, then runs it to its first event.
    row = Trigger.from_object(deferred.value.trigger)
    stored = row.encrypted_kwargs
    module, name = row.classpath.rsplit(".", 1)
    trigger = getattr(importlib.import_module(module), name)(**row.kwargs)
    assert isinstance(trigger, ArmadaJobTrigger) and trigger.serialize() == deferred.value.trigger.serialize()
    assert "secret" not in repr(row.kwargs) and isinstance(stored, str), "credentials stay in the connection"

    polls_before = rpc_calls(jobservice, "GetJobStatus")
    payload = asyncio.run(asyncio.wait_for(first_event(trigger), timeout=20))
    assert (payload["state"], payload["job_id"]) == ("SUCCEEDED", ti.xcom["armada_job_id"])
    assert rpc_calls(jobservice, "GetJobStatus") == polls_before, "the trigger watched: it never polled"
    assert operator(armada_url, jobservice, {}).execute_complete({"ti": ti}, payload) == ti.xcom["armada_job_id"]


async def first_event(trigger):
    async for event in trigger.run():
        return event.payload


@pytest.mark.parametrize("missing", [["WatchJobStatus"], ["WatchJobStatus", "GetJobStatuses"]], ids=["no watches", "no watches or batches"])
def test_triggers_of_one_triggerer_poll_a_server_without_watches_together(missing, armada_url, older_server):
    older = older_server(missing)
    client = armada(armada_url)
    jobs = [TrackedJob(QUEUE, "op-older", client.submit(QUEUE, "op-older", {"annotations": {"armada-sim/duration-ms": "1000"}}), time.time()) for _ in range(3)]
    triggers = [ArmadaJobTrigger(asdict(job), older.url, CONN_ID, poll_interval=0.05) for job in jobs]

    async def triggerer():
        return await asyncio.gather(*(first_event(trigger) for trigger in triggers))

    payloads = asyncio.run(asyncio.wait_for(triggerer(), timeout=30))
    assert [(p["state"], p["job_id"]) for p in payloads] == [("SUCCEEDED", job.job_id) for job in jobs]
    methods = older.methods()
    assert methods.count("WatchJobStatus") == 3, "each trigger tried to watch once"
    batches = [sorted(body["jobIds"]) for method, body in older.calls if method == "GetJobStatuses"]
    if "GetJobStatuses" in missing:
        assert len(batches) == 1 and "GetJobStatus" in methods, "refused once, then one GetJobStatus per job"
    else:
        assert "GetJobStatus" not in methods
        assert sorted(job.job_id for job in jobs) in batches, "a round asked about the three jobs in one call"


def test_a_retried_task_reattaches_to_the_job_its_first_try_submitted(armada_url, jobservice):
    first_try = TaskInstance("op-retry")
    with pytest.raises(TaskDeferred):
        operator(armada_url, jobservice, {"armada-sim/duration-ms": "1000"}, deferrable=True).execute({"ti": first_try})
    # The triggerer dies with the first try's trigger; Airflow retries the task on a new worker.
    second_try = TaskInstance("op-retry")
    job_id = operator(armada_url, jobservice, {"armada-sim/duration-ms": "1000"}).execute({"ti": second_try})
    assert job_id == first_try.xcom["armada_job_id"] == second_try.xcom["armada_job_id"]
    assert len(simulator_jobs(armada_url, "op-retry")) == 1


def test_on_kill_cancels_the_armada_job_and_the_task_fails(armada_url, jobservice):
    ti = TaskInstance("op-kill")
    op = operator(armada_url, jobservice, {"armada-sim/duration-ms": "60000"})

    def kill_once_running():
        # As Airflow does: on_kill from elsewhere (its signal handler) while execute() still waits.
        until(lambda: "armada_job_id" in ti.xcom and jobservice_client(jobservice).status(QUEUE, "op-kill", ti.xcom["armada_job_id"]).state == "RUNNING")
        op.on_kill()

    killer = threading.Thread(target=kill_once_running, daemon=True)
    killer.start()
    with pytest.raises(AirflowException, match="ended CANCELLED"):
        op.execute({"ti": ti})
    killer.join(timeout=20)
    assert [job["outcome"]["state"] for job in simulator_jobs(armada_url, "op-kill")] == ["cancelled"]


def test_wrong_credentials_in_the_connection_fail_the_submission(armada_url, jobservice, monkeypatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_uri_json(armada_url, jobservice.url, password="wrong"))
    with pytest.raises(ArmadaError, match="unauthenticated"):
        operator(armada_url, jobservice, {}).execute({"ti": TaskInstance("op-bad-credentials")})
