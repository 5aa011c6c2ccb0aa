"""Clients of the Armada Job Service and an Airflow operator that uses it.

The Airflow parts are in armada_jobservice.operator (imports Airflow); everything
here works without Airflow.
"""
from .armada import ArmadaClient, SubmittedJob
from .auth import authorization_header
from .client import GrpcJobServiceClient, JobServiceClient, JobStatus
from .errors import ArmadaError, JobServiceError, RpcError
from .job import Done, PollPolicy, TrackedJob, cancel_job, check, next_step, submit_or_reattach, task_instance_key, wait_for_job, wait_for_job_async

__all__ = [
    "ArmadaClient", "ArmadaError", "Done", "GrpcJobServiceClient", "JobServiceClient", "JobServiceError", "JobStatus",
    "PollPolicy", "RpcError", "SubmittedJob", "TrackedJob", "authorization_header", "cancel_job", "check", "next_step",
    "submit_or_reattach", "task_instance_key", "wait_for_job", "wait_for_job_async",
]
