"""An Airflow operator that runs one Armada job and waits for it through the Job Service, the
trigger that does the waiting when the operator is deferrable, and the hook behind the `armada`
connection type. The only module of the package that imports Airflow: 3.x through its authoring
API (airflow.sdk), 2.x through the older paths.

Thin on purpose: Airflow glue only. What happens is in armada_jobservice.job, .watch and .batch.
"""
import asyncio
from dataclasses import asdict

try:  # Airflow 3
    from airflow.sdk import BaseHook, BaseOperator
    from airflow.sdk.exceptions import AirflowException
except ImportError:  # Airflow 2
    from airflow.exceptions import AirflowException
    from airflow.hooks.base import BaseHook
    from airflow.models import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from .armada import ArmadaClient
from .batch import StatusReader, shared_poller
from .client import JobServiceClient
from .credentials import from_connection
from .job import PollPolicy, TrackedJob, cancel_job, submit_or_reattach, task_instance_key, wait_for_job
from .watch import watch_for_job_async


class ArmadaHook(BaseHook):
    """The `armada` connection: the addresses of Armada and of the Job Service (extra fields
    `armada_url`, `jobservice_url`) and the credentials for both (see docs/airflow.md)."""

    conn_name_attr = "armada_conn_id"
    default_conn_name = "armada_default"
    conn_type = "armada"
    hook_name = "Armada (Job Service)"

    def __init__(self, armada_conn_id=default_conn_name, **kwargs):
        super().__init__(**kwargs)
        self.armada_conn_id = armada_conn_id

    @classmethod
    def get_ui_field_behaviour(cls):
        return {
            "hidden_fields": ["host", "schema", "port"],
            "relabeling": {"login": "Username, or OIDC client id", "password": "Password, or OIDC client secret"},
            "placeholders": {"extra": '{"armada_url": "http://armada-server:50051", "jobservice_url": "http://armada-jobservice:60003"}'},
        }


def connection_settings(conn_id, connection=None):
    """(armada_url, jobservice_url, credentials) from the Airflow connection; (None, None, None) without one."""
    if not conn_id:
        return None, None, None
    connection = connection or BaseHook.get_connection(conn_id)
    extra = connection.extra_dejson
    credentials = from_connection(conn_id, connection.login, connection.password, extra)
    return extra.get("armada_url"), extra.get("jobservice_url"), credentials


def _address(name, given, from_connection, conn_id):
    if given or from_connection:
        return given or from_connection
    where = f"nor in the extra field {name!r} of Airflow connection {conn_id!r}" if conn_id else "and no armada_conn_id names a connection that has it"
    raise AirflowException(f"ArmadaJobOperator needs {name}: it is not an argument of the operator {where}")


class ArmadaJobOperator(BaseOperator):
    """Submits `job_request_item` (an api.JobSubmitRequestItem as a dict: priority, namespace,
    labels, annotations, pod_specs) to Armada queue `armada_queue` (not `queue`: that is
    BaseOperator's, the executor queue the task runs on), in job set `job_set_id` (default: the DAG run's
    id), and succeeds when the job succeeds. Addresses and credentials come from the Airflow
    connection `armada_conn_id`; `armada_url` and `jobservice_url` override its addresses. A retry
    reattaches to the job an earlier try submitted while that job is still running; a killed
    task cancels its job."""

    template_fields = ("armada_queue", "job_set_id", "job_request_item")

    def __init__(
        self,
        *,
        armada_queue,
        job_request_item,
        armada_conn_id=None,
        armada_url=None,
        jobservice_url=None,
        job_set_id=None,
        poll_interval=30.0,
        not_found_timeout=7200.0,
        deferrable=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.armada_queue = armada_queue
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
        armada_url, jobservice_url, credentials = connection_settings(self.armada_conn_id)
        armada_url = _address("armada_url", self.armada_url, armada_url, self.armada_conn_id)
        jobservice_url = _address("jobservice_url", self.jobservice_url, jobservice_url, self.armada_conn_id)
        self._armada = ArmadaClient(armada_url, authorization=credentials)
        jobservice = JobServiceClient(jobservice_url, authorization=credentials)
        self._job = submit_or_reattach(self._armada, jobservice, self.armada_queue, self.job_set_id or ti.run_id, self._task_key, self.job_request_item)
        verb = "reattached to" if self._job.reattached else "submitted"
        self.log.info("%s Armada job %s (queue %s, job set %s)", verb, self._job.job_id, self._job.queue, self._job.job_set_id)
        ti.xcom_push(key="armada_job_id", value=self._job.job_id)
        if self.deferrable:
            self.defer(
                trigger=ArmadaJobTrigger(asdict(self._job), jobservice_url, self.armada_conn_id, self.poll_interval, self.not_found_timeout),
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
        # Airflow 3's triggerer serves connections over an async channel; Airflow 2 reads them from its DB.
        read = getattr(BaseHook, "aget_connection", None)
        connection = (await read(self.armada_conn_id)) if read and self.armada_conn_id else None
        _, _, credentials = await asyncio.to_thread(connection_settings, self.armada_conn_id, connection)
        job = TrackedJob(**self.job)
        client = JobServiceClient(self.jobservice_url, authorization=credentials)
        policy = PollPolicy(self.poll_interval, self.not_found_timeout)
        poller = shared_poller((self.jobservice_url, credentials), lambda: StatusReader(client))
        done = await watch_for_job_async(client, job, policy, poll=lambda: poller.wait(job, policy))
        yield TriggerEvent({**done.to_dict(), "job_id": job.job_id})
