"""Both Job Service clients, against the live service following the simulator."""
import threading
from concurrent import futures

import grpc
import pytest

from armada_jobservice import GrpcJobServiceClient, JobServiceClient, JobServiceError, JobStatus

from conftest import QUEUE
from helpers import AUTHORIZATION, armada, metric, until

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


def finished(client, job_set_id, job_id, state):
    return until(lambda: client.status(QUEUE, job_set_id, job_id).state == state)


def test_get_job_statuses_answers_each_distinct_id_as_get_job_status_does(client, armada_url):
    job_id = armada(armada_url).submit(QUEUE, "clients-batch", {"annotations": {"armada-sim/duration-ms": "50"}})
    finished(client, "clients-batch", job_id, "SUCCEEDED")
    statuses = client.get_job_statuses(QUEUE, "clients-batch", [job_id, "no-such-job", job_id])
    assert statuses == {job_id: JobStatus("SUCCEEDED", ""), "no-such-job": JobStatus("JOB_ID_NOT_FOUND", "")}
    assert statuses == {id_: client.status(QUEUE, "clients-batch", id_) for id_ in statuses}


def test_get_job_statuses_beyond_the_servers_limit_is_invalid_argument_naming_it(client):
    with pytest.raises(JobServiceError) as error:
        client.get_job_statuses(QUEUE, "clients-batch", [f"job-{n}" for n in range(1001)])
    assert error.value.code == "invalid_argument" and "JOBSERVICE_MAX_BATCH_IDS" in error.value.message


def test_get_job_statuses_refuses_one_bare_id(client):
    with pytest.raises(TypeError, match="list of job ids"):
        client.get_job_statuses(QUEUE, "clients-batch", "job-1")


def test_a_watch_sends_each_change_and_stops_after_the_terminal_state(client, armada_url):
    job_id = armada(armada_url).submit(QUEUE, "clients-watch", {"annotations": {"armada-sim/duration-ms": "300"}})
    with client.watch_job_status(QUEUE, "clients-watch", job_id, timeout=20) as watch:
        answers = [status.state for status in watch]
    assert answers[-1] == "SUCCEEDED"
    assert set(answers) <= {"JOB_ID_NOT_FOUND", "CONNECTION_ERR", "SUBMITTED", "RUNNING", "SUCCEEDED"}
    assert all(a != b for a, b in zip(answers, answers[1:])), "an answer equal to the last one is not sent again"


def test_a_watch_carries_the_failure_reason(client, armada_url):
    job_id = armada(armada_url).submit(QUEUE, "clients-watch", {"annotations": {"armada-sim/exit-code": "2", "armada-sim/reason": "bad input", "armada-sim/duration-ms": "20"}})
    *_, last = client.watch_job_status(QUEUE, "clients-watch", job_id, timeout=20)
    assert last.state == "FAILED" and "bad input" in last.error


def test_a_watch_of_an_unknown_job_says_not_found_then_ends_at_its_deadline(client):
    watch = client.watch_job_status(QUEUE, "clients-watch", "no-such-job", timeout=1)
    assert next(watch) == JobStatus("JOB_ID_NOT_FOUND", "")
    with pytest.raises(JobServiceError) as error:
        next(watch)
    assert (error.value.code, error.value.transient) == ("deadline_exceeded", True)


def test_a_refused_watch_raises_its_code(client):
    with pytest.raises(JobServiceError) as error:
        next(client.watch_job_status(QUEUE, "clients-watch", "", timeout=5))
    assert (error.value.code, error.value.transient) == ("invalid_argument", False)
    assert "job_id" in error.value.message


def test_closing_a_watch_from_another_thread_ends_the_iteration_blocked_in_it(client, jobservice):
    open_before = metric(jobservice, "jobservice_watches_open")
    watch = client.watch_job_status(QUEUE, "clients-watch", "no-such-job", timeout=60)
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(watch))
    reader.start()
    until(lambda: seen and metric(jobservice, "jobservice_watches_open") == open_before + 1)
    watch.close()
    reader.join(timeout=10)
    assert not reader.is_alive() and seen == [JobStatus("JOB_ID_NOT_FOUND", "")]
    assert until(lambda: metric(jobservice, "jobservice_watches_open") == open_before), "the server's stream ends too"


@pytest.mark.parametrize("make", CLIENTS.values(), ids=CLIENTS.keys())
def test_a_watch_of_an_unreachable_service_is_a_transient_unavailable(make, unused_port):
    with pytest.raises(JobServiceError) as error:
        next(make(f"http://127.0.0.1:{unused_port}", timeout=2).watch_job_status(QUEUE, "s", "j", timeout=5))
    assert (error.value.code, error.value.transient) == ("unavailable", True)


@pytest.fixture
def bare_grpc_server():
    """A gRPC server that serves nothing: grpcio answers every method UNIMPLEMENTED, as Armada's own Job Service does the new ones."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop(None)


@pytest.mark.parametrize("method", ["watch", "batch"])
def test_an_older_server_answers_the_new_methods_unimplemented(method, older_server, bare_grpc_server):
    clients = [JobServiceClient(older_server(["WatchJobStatus", "GetJobStatuses"]).url, timeout=5), GrpcJobServiceClient(bare_grpc_server, timeout=5)]
    for client in clients:
        with pytest.raises(JobServiceError) as error:
            if method == "watch":
                next(client.watch_job_status(QUEUE, "s", "j", timeout=5))
            else:
                client.get_job_statuses(QUEUE, "s", ["j"])
        assert (error.value.code, error.value.transient) == ("unimplemented", False)
