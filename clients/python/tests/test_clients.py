"""Both Job Service clients, against the live service following the simulator."""
import pytest

from armada_jobservice import GrpcJobServiceClient, JobServiceClient, JobServiceError, JobStatus

from conftest import QUEUE
from helpers import AUTHORIZATION, armada, until

CLIENTS = {"Connect JSON": JobServiceClient, "gRPC": GrpcJobServiceClient}


@pytest.fixture(params=CLIENTS.values(), ids=CLIENTS.keys())
def client(request, jobservice):
    return request.param(jobservice.url, authorization=AUTHORIZATION, timeout=10)


def test_health_is_serving(client):
    assert client.health() == "SERVING"


def test_status_follows_a_job_to_success(client, armada_url):
    job_id = armada(armada_url).submit(QUEUE, "clients-success", {"annotations": {"armada-sim/duration-ms": "100"}})
    assert until(lambda: client.status(QUEUE, "clients-success", job_id).state == "SUCCEEDED")
    assert client.status(QUEUE, "clients-success", job_id) == JobStatus("SUCCEEDED", "")


def test_status_carries_the_failure_reason(client, armada_url):
    job_id = armada(armada_url).submit(QUEUE, "clients-failure", {"annotations": {"armada-sim/exit-code": "137", "armada-sim/cause": "OOM", "armada-sim/duration-ms": "50"}})
    status = until(lambda: (lambda s: s if s.state == "FAILED" else None)(client.status(QUEUE, "clients-failure", job_id)))
    assert "exit code 137, cause OOM" in status.error


def test_an_unknown_job_is_job_id_not_found(client):
    assert client.status(QUEUE, "clients-empty", "no-such-job") == JobStatus("JOB_ID_NOT_FOUND", "")


def test_an_empty_field_is_invalid_argument(client):
    with pytest.raises(JobServiceError) as error:
        client.status(QUEUE, "clients-empty", "")
    assert (error.value.code, error.value.transient) == ("invalid_argument", False)
    assert "job_id" in error.value.message


@pytest.mark.parametrize("make", CLIENTS.values(), ids=CLIENTS.keys())
def test_an_unreachable_service_is_a_transient_unavailable(make, unused_port):
    with pytest.raises(JobServiceError) as error:
        make(f"http://127.0.0.1:{unused_port}", timeout=2).status(QUEUE, "s", "j")
    assert (error.value.code, error.value.transient) == ("unavailable", True)


def test_a_url_that_is_not_http_is_refused():
    with pytest.raises(ValueError, match="http://host:port"):
        JobServiceClient("127.0.0.1:60003")
