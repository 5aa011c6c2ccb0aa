"""What several test files share: Armada and Job Service clients for the running servers."""
import subprocess
import json
import time

from armada_jobservice import ArmadaClient, JobServiceClient, authorization_header

from conftest import ARMADA_PASSWORD, ARMADA_USER, QUEUE

AUTHORIZATION = authorization_header(ARMADA_USER, ARMADA_PASSWORD)


def armada(armada_url):
    return ArmadaClient(armada_url, authorization=AUTHORIZATION, timeout=10)


def jobservice_client(jobservice):
    return JobServiceClient(jobservice.url, authorization=AUTHORIZATION, timeout=10)


def simulator_jobs(armada_url, job_set_id):
    """The simulator's own record of the jobs in a job set (its control surface is h2c only: curl)."""
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", f"{armada_url}/control/jobs"], check=True, capture_output=True, text=True).stdout
    return [job for job in json.loads(out)["jobs"] if job["queue"] == QUEUE and job["jobSetId"] == job_set_id]


def until(predicate, timeout=10.0):
    """Waits, bounded, for a condition on the live servers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout} s")
