"""What several test files share: Armada and Job Service clients for the running servers, and what
the servers say about themselves (the service's /metrics, the simulator's control surface)."""
import asyncio
import json
import re
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

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


def simulator_control(armada_url, path, body):
    """POSTs to the simulator's control surface (h2c only: curl), e.g. /control/drop-streams."""
    subprocess.run(["curl", "-sS", "--fail", "--http2-prior-knowledge", "-H", "content-type: application/json", "-d", json.dumps(body), f"{armada_url}{path}"], check=True, capture_output=True)


def metric(jobservice, name, **labels):
    """The sum of a metric's samples in the service's /metrics that carry `labels`."""
    text = urllib.request.urlopen(f"{jobservice.url}/metrics", timeout=10).read().decode()
    total = 0.0
    for sample_labels, value in re.findall(rf"^{name}(?:{{([^}}]*)}})? (\S+)$", text, re.M):
        if all(f'{key}="{wanted}"' in sample_labels for key, wanted in labels.items()):
            total += float(value)
    return total


def rpc_calls(jobservice, method):
    """RPCs of `method` the service has answered, whatever their outcome."""
    return metric(jobservice, "jobservice_rpc_requests_total", method=method)


def in_background(coroutine_function, timeout=30.0):
    """Runs `coroutine_function()` in an event loop of its own on a thread, bounded; a Future of its result."""
    executor = ThreadPoolExecutor(1)
    future = executor.submit(asyncio.run, asyncio.wait_for(coroutine_function(), timeout))
    executor.shutdown(wait=False)
    return future


class RecordingClient:
    """A Job Service client that records the batch calls made through it: (job_set_id, job ids)."""

    def __init__(self, client):
        self.client = client
        self.batches = []

    def get_job_statuses(self, queue, job_set_id, job_ids):
        self.batches.append((job_set_id, list(job_ids)))
        return self.client.get_job_statuses(queue, job_set_id, job_ids)

    def __getattr__(self, name):
        return getattr(self.client, name)
