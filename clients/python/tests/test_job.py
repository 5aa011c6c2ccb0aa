"""The operator's logic, against the live Job Service and the Armada simulator."""
import asyncio
import threading
import time

import pytest

from armada_jobservice import (
    ArmadaClient, ArmadaError, Done, JobStatus, PollPolicy, TrackedJob, cancel_job, next_step, submit_or_reattach,
    task_instance_key, wait_for_job, wait_for_job_async,
)
from armada_jobservice.job import TASK_ANNOTATION, client_id_prefix

from conftest import QUEUE
from helpers import armada, jobservice_client, simulator_jobs, until

FAST = PollPolicy(interval=0.05, not_found_timeout=30)


class Recorder:
    """Every transient answer and every sleep of one wait, in order."""

    def __init__(self):
        self.events = []

    def status(self, status):
        self.events.append(("status", status.state))

    def sleep(self, seconds):
        self.events.append(("sleep", seconds))
        time.sleep(seconds)


def run_task(armada_url, jobservice, job_set_id, item, task="task", recorder=None):
    key = task_instance_key("dag", task, job_set_id)
    job = submit_or_reattach(armada(armada_url), jobservice_client(jobservice), QUEUE, job_set_id, key, item)
    recorder = recorder or Recorder()
    return job, wait_for_job(jobservice_client(jobservice), job, FAST, sleep=recorder.sleep, on_status=recorder.status)


def test_a_job_that_succeeds_ends_the_wait_with_no_sleep_after_it(armada_url, jobservice):
    recorder = Recorder()
    job, done = run_task(armada_url, jobservice, "run-success", {"annotations": {"armada-sim/duration-ms": "150"}}, recorder=recorder)
    assert done == Done(True, "SUCCEEDED", f"Armada job {job.job_id} succeeded")
    # Each transient answer is followed by one sleep; the terminal answer by none.
    assert recorder.events[0::2] == [("status", state) for _, state in recorder.events[0::2]]
    assert all(kind == "sleep" for kind, _ in recorder.events[1::2])
    assert len(recorder.events) % 2 == 0 and recorder.events[-1][0] == "sleep"


def test_a_failed_job_fails_with_its_reason(armada_url, jobservice):
    item = {"annotations": {"armada-sim/exit-code": "1", "armada-sim/reason": "ValueError: bad input", "armada-sim/duration-ms": "50"}}
    job, done = run_task(armada_url, jobservice, "run-failure", item)
    assert (done.succeeded, done.state) == (False, "FAILED")
    assert done.message.startswith(f"Armada job {job.job_id} ended FAILED: ValueError: bad input")
    assert "exit code 1" in done.message


def test_a_job_cancelled_in_armada_fails_the_task(armada_url, jobservice):
    job, done = run_task(armada_url, jobservice, "run-cancel", {"annotations": {"armada-sim/outcome": "cancelled", "armada-sim/duration-ms": "50"}})
    assert (done.succeeded, done.state) == (False, "CANCELLED")


def test_the_submission_carries_the_task_key_and_a_client_id(armada_url, jobservice):
    job, _ = run_task(armada_url, jobservice, "run-annotated", {"annotations": {"armada-sim/duration-ms": "10"}})
    [found] = armada(armada_url).submitted_jobs(QUEUE, "run-annotated", client_id_prefix(task_instance_key("dag", "task", "run-annotated")))
    assert (found.job_id, found.client_id) == (job.job_id, client_id_prefix(task_instance_key("dag", "task", "run-annotated")) + "0")
    assert TASK_ANNOTATION == "armada-jobservice/airflow-task-instance"


def test_an_unreachable_service_counts_as_connection_err_until_it_is_back(armada_url, jobservice):
    key = task_instance_key("dag", "task", "run-outage")
    job = submit_or_reattach(armada(armada_url), jobservice_client(jobservice), QUEUE, "run-outage", key, {"annotations": {"armada-sim/duration-ms": "100"}})
    jobservice.stop()
    recorder = Recorder()
    result = {}
    waiter = threading.Thread(target=lambda: result.update(done=wait_for_job(jobservice_client(jobservice), job, FAST, sleep=recorder.sleep, on_status=recorder.status)))
    try:
        waiter.start()
        until(lambda: recorder.events.count(("status", "CONNECTION_ERR")) >= 3)
    finally:
        jobservice.start()
    waiter.join(timeout=20)
    assert result["done"].state == "SUCCEEDED"
    assert ("status", "CONNECTION_ERR") in recorder.events


def test_a_retry_reattaches_to_the_job_still_running_instead_of_submitting_again(armada_url, jobservice):
    key = task_instance_key("dag", "task", "run-retry")
    item = {"annotations": {"armada-sim/duration-ms": "1500"}}
    first = submit_or_reattach(armada(armada_url), jobservice_client(jobservice), QUEUE, "run-retry", key, item)
    # The first try's worker dies here; the second try starts from nothing but the task key.
    until(lambda: jobservice_client(jobservice).status(QUEUE, "run-retry", first.job_id).state in ("SUBMITTED", "RUNNING"))
    second = submit_or_reattach(armada(armada_url), jobservice_client(jobservice), QUEUE, "run-retry", key, item)
    assert (second.job_id, second.reattached) == (first.job_id, True)
    assert abs(second.submitted_at - first.submitted_at) < 5, "the not-found deadline counts from the first submission"
    assert [job["jobId"] for job in simulator_jobs(armada_url, "run-retry")] == [first.job_id]
    assert wait_for_job(jobservice_client(jobservice), second, FAST).state == "SUCCEEDED"


def test_a_retry_after_the_job_failed_submits_a_new_one(armada_url, jobservice):
    item = {"annotations": {"armada-sim/exit-code": "2", "armada-sim/duration-ms": "20"}}
    first, done = run_task(armada_url, jobservice, "run-retry-failed", item)
    assert done.state == "FAILED"
    second, _ = run_task(armada_url, jobservice, "run-retry-failed", item)
    assert not second.reattached and second.job_id != first.job_id
    assert [job["jobId"] for job in simulator_jobs(armada_url, "run-retry-failed")] == [first.job_id, second.job_id]


def test_killing_the_task_cancels_its_armada_job_and_ends_the_wait(armada_url, jobservice):
    client = armada(armada_url)
    job = submit_or_reattach(client, jobservice_client(jobservice), QUEUE, "run-kill", task_instance_key("dag", "task", "run-kill"), {"annotations": {"armada-sim/duration-ms": "60000"}})
    result = {}
    waiter = threading.Thread(target=lambda: result.update(done=wait_for_job(jobservice_client(jobservice), job, FAST)))
    waiter.start()
    until(lambda: jobservice_client(jobservice).status(QUEUE, "run-kill", job.job_id).state == "RUNNING")
    assert cancel_job(client, job, "Airflow task killed") == [job.job_id]
    waiter.join(timeout=20)
    assert result["done"].state == "CANCELLED"
    assert cancel_job(client, job, "again") == [], "an ended job is not cancelled twice"


def test_job_id_not_found_fails_once_the_deadline_from_submission_has_passed(jobservice):
    clock = [1000.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += seconds

    # Submitted 9 s "ago" with a 10 s limit: one short sleep up to the deadline, not a whole interval.
    job = TrackedJob(QUEUE, "run-missing", "01NOSUCHJOB0000000000000000", submitted_at=991.0)
    done = wait_for_job(jobservice_client(jobservice), job, PollPolicy(interval=30, not_found_timeout=10), clock=lambda: clock[0], sleep=sleep)
    assert sleeps == [1.0]
    assert (done.succeeded, done.state) == (False, "JOB_ID_NOT_FOUND")
    assert "not found 10 s after its submission (limit 10 s)" in done.message


def test_the_async_wait_for_the_trigger_polls_the_same_way(armada_url, jobservice):
    job = submit_or_reattach(armada(armada_url), jobservice_client(jobservice), QUEUE, "run-async", task_instance_key("dag", "task", "run-async"), {"annotations": {"armada-sim/duration-ms": "100"}})
    done = asyncio.run(asyncio.wait_for(wait_for_job_async(jobservice_client(jobservice), job, FAST), timeout=20))
    assert done.state == "SUCCEEDED"


def test_armada_refuses_a_caller_without_credentials(armada_url):
    with pytest.raises(ArmadaError) as error:
        ArmadaClient(armada_url).submit(QUEUE, "run-anonymous", {})
    assert error.value.code == "unauthenticated"


@pytest.mark.parametrize(
    "state, succeeded",
    [("SUCCEEDED", True), ("FAILED", False), ("CANCELLED", False), ("DUPLICATE_FOUND", False)],
)
def test_every_terminal_state_ends_the_wait(state, succeeded):
    step = next_step(JobStatus(state, ""), TrackedJob("q", "s", "j", 0.0), 1.0, PollPolicy())
    assert isinstance(step, Done) and step.succeeded is succeeded


@pytest.mark.parametrize("state", ["SUBMITTED", "RUNNING", "CONNECTION_ERR"])
def test_transient_states_wait_one_interval_however_long_after_submission(state):
    step = next_step(JobStatus(state, ""), TrackedJob("q", "s", "j", 0.0), 1e9, PollPolicy(interval=30))
    assert step.seconds == 30
