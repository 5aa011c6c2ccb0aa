"""An Airflow operator that runs one Armada job and waits for it through the Job
Service, and the trigger that does the waiting when the operator is deferrable.

Thin on purpose: Airflow glue only. What happens is in armada_jobservice.job, .watch and .batch.
"""
import asyncio
from dataclasses import asdict

from airflow.exceptions import AirflowException
from airflow.hooks.base import BaseHook
from airflow.models import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from .armada import ArmadaClient
from .auth import authorization_header
from .batch import StatusReader, shared_poller
from .client import JobServiceClient
from .job import PollPolicy, TrackedJob, cancel_job, submit_or_reattach, task_instance_key, wait_for_job
from .watch import watch_for_job_async


def connection_authorization(conn_id):
    """The caller's Armada credentials from an Airflow connection: login and password (basic
    auth), or a bearer token in the extra field {"token": "…"}. None without a connection."""
    if not conn_id:
        return None
    connection = BaseHook.get_connection(conn_id)
    return authorization_header(connection.login, connection.password, connection.extra_dejson.get("token"))


class ArmadaJobOperator(BaseOperator):
    """Submits `job_request_item` (an api.JobSubmitRequestItem as a dict: priority, namespace,
    labels, annotations, pod_specs) to `queue`, in job set `job_set_id` (default: the DAG run's
    id), and succeeds when the job succeeds. A retry reattaches to the job an earlier try
    submitted while that job is still running; a killed task cancels its job."""

    template_fields = ("queue", "job_set_id", "job_request_item")

    def __init__(
        self,
        *,
        queue,
        job_request_item,
        armada_url,
        jobservice_url,
        armada_conn_id=None,
        job_set_id=None,
        poll_interval=30.0,
        not_found_timeout=7200.0,
        deferrable=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.queue = queue
        self.job_request_item = job_request_item
        self.armada_url = armada_url
        self.jobservice_url = jobservice_url
        self.armada_conn_id = armada_conn_id
        self.job_set_id = job_set_id
        self.poll_interval = poll_interval
        self.not_found_timeout = not_found_timeout
        self.deferrable = deferrable
        self._armada = None
        self._job = None
        self._task_key = None

    def execute(self, context):
        ti = context["ti"]
        self._task_key = task_instance_key(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1))
        authorization = connection_authorization(self.armada_conn_id)
        self._armada = ArmadaClient(self.armada_url, authorization=authorization)
        jobservice = JobServiceClient(self.jobservice_url, authorization=authorization)
        self._job = submit_or_reattach(self._armada, jobservice, self.queue, self.job_set_id or ti.run_id, self._task_key, self.job_request_item)
        verb = "reattached to" if self._job.reattached else "submitted"
        self.log.info("%s Armada job %s (queue %s, job set %s)", verb, self._job.job_id, self._job.queue, self._job.job_set_id)
        ti.xcom_push(key="armada_job_id", value=self._job.job_id)
        if self.deferrable:
            self.defer(
                trigger=ArmadaJobTrigger(asdict(self._job), self.jobservice_url, self.armada_conn_id, self.poll_interval, self.not_found_timeout),
                method_name="execute_complete",
            )
        policy = PollPolicy(self.poll_interval, self.not_found_timeout)
        done = wait_for_job(jobservice, self._job, policy, on_status=lambda status: self.log.info("Armada job %s: %s %s", self._job.job_id, status.state, status.error))
        return self.execute_complete(context, {**done.to_dict(), "job_id": self._job.job_id})

    def execute_complete(self, context, event):
        if not event["succeeded"]:
            raise AirflowException(event["message"])
        self.log.info("%s", event["message"])
        return event["job_id"]

    def on_kill(self):
        if self._job is not None:
            cancelled = cancel_job(self._armada, self._job, f"Airflow task {self._task_key} was killed")
            self.log.info("cancelled Armada job %s" if cancelled else "Armada job %s had already ended", self._job.job_id)


class ArmadaJobTrigger(BaseTrigger):
    """Waits in the triggerer until the job ends, on a WatchJobStatus stream (reopened with backoff
    when it breaks). Against a server without watches it polls, every `poll_interval`, in rounds
    shared by all the triggerer's triggers for the same Job Service and credentials: one
    GetJobStatuses call per job set and round (GetJobStatus per job where that is missing too).
    Holds no credentials: it reads them from the Airflow connection when it runs."""

    def __init__(self, job, jobservice_url, armada_conn_id=None, poll_interval=30.0, not_found_timeout=7200.0):
        super().__init__()
        self.job = job
        self.jobservice_url = jobservice_url
        self.armada_conn_id = armada_conn_id
        self.poll_interval = poll_interval
        self.not_found_timeout = not_found_timeout

    def serialize(self):
        return (
            "armada_jobservice.operator.ArmadaJobTrigger",
            {
                "job": self.job,
                "jobservice_url": self.jobservice_url,
                "armada_conn_id": self.armada_conn_id,
                "poll_interval": self.poll_interval,
                "not_found_timeout": self.not_found_timeout,
            },
        )

    async def run(self):
        authorization = await asyncio.to_thread(connection_authorization, self.armada_conn_id)
        job = TrackedJob(**self.job)
        client = JobServiceClient(self.jobservice_url, authorization=authorization)
        policy = PollPolicy(self.poll_interval, self.not_found_timeout)
        poller = shared_poller((self.jobservice_url, authorization), lambda: StatusReader(client))
        done = await watch_for_job_async(client, job, policy, poll=lambda: poller.wait(job, policy))
        yield TriggerEvent({**done.to_dict(), "job_id": job.job_id})
