"""What the Airflow operator does, as plain functions: submit a job to Armada (or
reattach to the one an earlier try submitted), poll the Job Service until the
job ends, cancel it when the task is killed.

Compared with Armada's own operator: the first poll comes right after
submission and there is no sleep after a terminal state; the JOB_ID_NOT_FOUND
deadline counts from the submission (Armada's time of it), not from the start of
polling; a retried task reattaches to its still-running job instead of
submitting a second one.
"""
import asyncio
import hashlib
import time
from dataclasses import asdict, dataclass

from .client import FAILURE_STATES, SUCCESS_STATES, TERMINAL_STATES, JobStatus
from .errors import JobServiceError

TASK_ANNOTATION = "armada-jobservice/airflow-task-instance"


@dataclass(frozen=True)
class PollPolicy:
    # Seconds between polls while the job runs (Armada's operator: 30).
    interval: float = 30.0
    # JOB_ID_NOT_FOUND for this long after the submission fails the task (Armada's operator: 7200).
    not_found_timeout: float = 7200.0
    # Longest a WatchJobStatus stream stays open before it is opened anew: a connection that died
    # without a word is found out within this (plus STREAM_GRACE_SECONDS).
    watch_period: float = 300.0


@dataclass(frozen=True)
class TrackedJob:
    queue: str
    job_set_id: str
    job_id: str
    # Seconds since the epoch when the job was submitted.
    submitted_at: float
    # True when an earlier try submitted it and this one picked it up.
    reattached: bool = False


@dataclass(frozen=True)
class Done:
    succeeded: bool
    state: str
    message: str

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class Wait:
    seconds: float
    status: JobStatus


def task_instance_key(dag_id, task_id, run_id, map_index=-1):
    """The identity of an Airflow task instance, the same on every try."""
    return f"{dag_id}/{task_id}/{run_id}/{map_index}"


def client_id_prefix(task_key):
    """Armada client ids of a task instance's submissions: `<prefix><n>`. Hashed: Armada stores
    client ids in its database, and task keys can be long; the full key goes in an annotation."""
    return "airflow-" + hashlib.sha256(task_key.encode()).hexdigest()[:32] + "-"


def submit_or_reattach(armada, jobservice, queue, job_set_id, task_key, item, now=time.time):
    """The job this task instance should follow: the latest one an earlier try submitted, if it
    has not ended yet, or else a new submission. A job that ended is never reattached: a retry
    after a failure, or a cleared task, means run it again."""
    prefix = client_id_prefix(task_key)
    earlier = armada.submitted_jobs(queue, job_set_id, prefix)
    if earlier:
        latest = earlier[-1]
        if _still_running(jobservice, queue, job_set_id, latest.job_id):
            return TrackedJob(queue, job_set_id, latest.job_id, latest.submitted_at, reattached=True)
    item = dict(item)
    # The n-th submission of this task instance: Armada deduplicates a repeat of the same client id.
    item["client_id"] = f"{prefix}{len(earlier)}"
    item["annotations"] = {**item.get("annotations", {}), TASK_ANNOTATION: task_key}
    submitted_at = now()
    job_id = armada.submit(queue, job_set_id, item)
    return TrackedJob(queue, job_set_id, job_id, submitted_at)


def _still_running(jobservice, queue, job_set_id, job_id):
    """Unknown counts as running: reattaching to a job that turns out finished costs one poll,
    submitting a duplicate of a running job costs a whole second run."""
    try:
        return jobservice.status(queue, job_set_id, job_id).state not in TERMINAL_STATES
    except JobServiceError:
        return True


def next_step(status, job, now, policy):
    """What to do after one answer: Done for a terminal state (or a deadline passed), else Wait."""
    if status.state in SUCCESS_STATES:
        return Done(True, status.state, f"Armada job {job.job_id} succeeded")
    if status.state in FAILURE_STATES:
        reason = f": {status.error}" if status.error else ""
        return Done(False, status.state, f"Armada job {job.job_id} ended {status.state}{reason}")
    if status.state == "JOB_ID_NOT_FOUND":
        left = job.submitted_at + policy.not_found_timeout - now
        if left <= 0:
            return Done(False, status.state, f"Armada job {job.job_id} not found {now - job.submitted_at:.0f} s after its submission (limit {policy.not_found_timeout:.0f} s)")
        return Wait(min(policy.interval, left), status)
    # SUBMITTED, RUNNING, CONNECTION_ERR: the job is on its way, or the service will find out.
    return Wait(policy.interval, status)


def check(jobservice, job, now, policy):
    """One poll. An unreachable Job Service counts as CONNECTION_ERR; a refused call (bad
    credentials, bad request) ends the wait, since asking again cannot change the answer."""
    try:
        answer = jobservice.status(job.queue, job.job_set_id, job.job_id)
    except JobServiceError as error:
        answer = error
    return step_after(answer, job, now, policy, "status call")


def step_after(answer, job, now, policy, call):
    """next_step for what one call brought about the job: a JobStatus, or the JobServiceError it raised
    (transient: the job counts as CONNECTION_ERR; else Done, failed). `call` names it in the message."""
    if isinstance(answer, JobServiceError):
        if not answer.transient:
            return Done(False, "ERROR", f"the Job Service refused the {call} for Armada job {job.job_id}: {answer}")
        answer = JobStatus("CONNECTION_ERR", str(answer))
    return next_step(answer, job, now, policy)


def wait_for_job(jobservice, job, policy=PollPolicy(), clock=time.time, sleep=time.sleep, on_status=None):
    """Polls until the job ends; returns Done. `on_status(JobStatus)` sees every transient answer."""
    while True:
        step = check(jobservice, job, clock(), policy)
        if isinstance(step, Done):
            return step
        if on_status is not None:
            on_status(step.status)
        sleep(step.seconds)


async def wait_for_job_async(jobservice, job, policy=PollPolicy(), clock=time.time, on_status=None):
    """wait_for_job for an event loop (the deferrable trigger): each blocking poll runs in a thread."""
    while True:
        step = await asyncio.to_thread(check, jobservice, job, clock(), policy)
        if isinstance(step, Done):
            return step
        if on_status is not None:
            on_status(step.status)
        await asyncio.sleep(step.seconds)


def cancel_job(armada, job, reason):
    """Cancels the job in Armada (when the task is killed); returns the ids Armada cancelled."""
    return armada.cancel(job.queue, job.job_set_id, job.job_id, reason)
