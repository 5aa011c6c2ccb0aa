"""Credentials from an Airflow connection's fields (armada_jobservice.credentials), against a real OIDC
token endpoint, armadactl-style token commands, and the simulator and Job Service requiring them."""
import json
import threading
import time

import pytest

from armada_jobservice import ArmadaClient, JobServiceClient
from armada_jobservice.credentials import forget_tokens, from_connection
from armada_jobservice.errors import ArmadaError, JobServiceError

from conftest import ARMADA_PASSWORD, ARMADA_USER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_TOKEN_SECONDS, QUEUE, ROOT

HELPER = ["node", str(ROOT / "test/support/token-helper.mjs")]


@pytest.fixture(autouse=True)
def empty_cache():
    forget_tokens()
    yield
    forget_tokens()


def oidc(provider, secret=OIDC_CLIENT_SECRET, conn_id="armada_oidc"):
    return from_connection(conn_id, OIDC_CLIENT_ID, secret, {"auth": "oidc-client-credentials", "oidc_provider_url": provider, "oidc_scopes": "armada"})


def token_command(tmp_path, *args, **settings):
    runs = tmp_path / "runs"
    command = {"cmd": HELPER[0], "args": [HELPER[1], *args], "env": {"TOKEN_HELPER_RUNS": str(runs)}, **settings}
    return from_connection("armada_exec", None, None, {"auth": "exec", "exec": command}), runs


def runs_of(runs):
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def test_basic_and_static_token_connections_give_armadactls_headers():
    assert from_connection("c", "alice", "secret", {})() == "basic YWxpY2U6c2VjcmV0"
    assert from_connection("c", None, None, {"token": "t0ken"})() == "Bearer t0ken"
    assert from_connection("c", None, None, {}) is None


def test_an_unknown_method_is_refused_naming_the_setting_not_the_secret():
    with pytest.raises(ValueError, match=r"extra field \"auth\" is 'kerberos'; expected one of basic, token, oidc-client-credentials, exec"):
        from_connection("c", "alice", "secret", {"auth": "kerberos"})
    with pytest.raises(ValueError, match="'oidc_provider_url' is missing"):
        from_connection("c", "alice", "secret", {"auth": "oidc-client-credentials"})


def test_oidc_client_credentials_are_exchanged_once_and_renewed_before_the_token_expires(oidc_provider):
    credentials = oidc(oidc_provider)
    first = credentials()
    assert first.startswith("Bearer oidc-") and credentials() == first, "cached while fresh"
    time.sleep(OIDC_TOKEN_SECONDS * 0.95)  # past 90 % of its lifetime, before it expires
    renewed = credentials()
    assert renewed.startswith("Bearer oidc-") and renewed != first


def test_the_triggers_of_one_process_share_one_token_per_connection(oidc_provider):
    # Each trigger reads the connection and builds its own Credentials: the cache is the module's.
    headers = []
    threads = [threading.Thread(target=lambda: headers.append(oidc(oidc_provider)())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(headers) == 8 and len(set(headers)) == 1
    assert oidc(oidc_provider, conn_id="another")() != headers[0], "another connection has a token of its own"


def test_a_wrong_client_secret_is_unauthenticated_and_never_shown(oidc_provider):
    with pytest.raises(ArmadaError) as refused:
        ArmadaClient("http://127.0.0.1:1", authorization=oidc(oidc_provider, secret="wrong-secret")).submit(QUEUE, "s", {})
    assert refused.value.code == "unauthenticated" and "invalid_client" in str(refused.value)
    assert "wrong-secret" not in str(refused.value)


def test_an_unreachable_provider_is_transient_for_the_job_service_client(unused_port):
    client = JobServiceClient("http://127.0.0.1:1", authorization=oidc(f"http://127.0.0.1:{unused_port}"))
    with pytest.raises(JobServiceError) as unreachable:
        client.status(QUEUE, "s", "j")
    assert unreachable.value.transient and "could not reach the OIDC provider" in str(unreachable.value)


def test_an_oidc_token_submits_to_armada_and_reads_the_job_service(oidc_provider, armada_url, jobservice, armada_accepts):
    armada_accepts([f"oidc-{n}" for n in range(1, 40)])
    credentials = oidc(oidc_provider)
    job_id = ArmadaClient(armada_url, authorization=credentials).submit(QUEUE, "oidc-run", {"annotations": {"armada-sim/duration-ms": "50"}})
    assert JobServiceClient(jobservice.url, authorization=credentials).status(QUEUE, "oidc-run", job_id).state in {"SUBMITTED", "RUNNING", "SUCCEEDED", "JOB_ID_NOT_FOUND"}


def test_a_token_command_runs_once_while_its_jwt_is_fresh(tmp_path):
    credentials, runs = token_command(tmp_path, "jwt", "3600", "airflow")
    first = credentials()
    assert first.startswith("Bearer ey") and credentials() == first
    assert runs_of(runs) == 1


def test_an_opaque_token_from_a_command_is_kept_for_cache_seconds(tmp_path):
    credentials, runs = token_command(tmp_path, "token", "opaque-1", cache_seconds=0.5)
    assert credentials() == "Bearer opaque-1" == credentials()
    time.sleep(0.6)
    assert credentials() == "Bearer opaque-1" and runs_of(runs) == 2


def test_a_failing_token_command_is_named_but_its_output_never_shown(tmp_path):
    credentials, _ = token_command(tmp_path, "fail", "3", "the-secret-it-printed")
    with pytest.raises(ArmadaError) as failed:
        ArmadaClient("http://127.0.0.1:1", authorization=credentials).submit(QUEUE, "s", {})
    assert "token command" in str(failed.value) and "exited 3" in str(failed.value)
    assert "the-secret-it-printed" not in json.dumps(str(failed.value))
