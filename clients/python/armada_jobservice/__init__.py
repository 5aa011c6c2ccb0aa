"""Clients of the Armada Job Service and an Airflow operator that uses it.

The Airflow parts are in armada_jobservice.operator (imports Airflow); everything
here works without Airflow.
"""
# The package's one version: pyproject.toml and the Airflow provider info read it from here.
__version__ = "0.1.0"

from .armada import ArmadaClient, SubmittedJob
from .auth import authorization_header
from .batch import JobStatusPoller, StatusReader, shared_poller, wait_for_jobs
from .client import GrpcJobServiceClient, JobServiceClient, JobStatus, JobStatusWatch
from .errors import ArmadaError, JobServiceError, RpcError
from .job import Done, PollPolicy, TrackedJob, cancel_job, check, next_step, submit_or_reattach, task_instance_key, wait_for_job, wait_for_job_async
from .watch import watch_for_job_async

__all__ = [
    "ArmadaClient", "ArmadaError", "Done", "GrpcJobServiceClient", "JobServiceClient", "JobServiceError", "JobStatus",
    "JobStatusPoller", "JobStatusWatch", "PollPolicy", "RpcError", "StatusReader", "SubmittedJob", "TrackedJob",
    "authorization_header", "cancel_job", "check", "next_step", "shared_poller", "submit_or_reattach", "task_instance_key",
    "wait_for_job", "wait_for_job_async", "wait_for_jobs", "watch_for_job_async",
]
