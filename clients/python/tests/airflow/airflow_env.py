"""Real Apache Airflow (2.11 or 3.3, whichever this environment has) with a SQLite metadata DB in a
temporary AIRFLOW_HOME, migrated once per session. Test modules import this before Airflow, which
reads its configuration on import, and use its fixtures."""
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HOME = Path(os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-")))
DAGS = HOME / "dags"
DAGS.mkdir(parents=True, exist_ok=True)
os.environ.update({
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME / 'airflow.db'}",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
})

import airflow  # noqa: E402

from conftest import ARMADA_PASSWORD, ARMADA_USER, ROOT  # noqa: E402

AIRFLOW_3 = int(airflow.__version__.split(".")[0]) >= 3
CONN_ID = "armada_default"


@pytest.fixture(scope="session", autouse=True)
def airflow_db():
    migrated = HOME / ".migrated"
    if not migrated.exists():
        subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], check=True, capture_output=True, env=os.environ)
        migrated.touch()


def connection_uri_json(armada_url, jobservice_url, login=ARMADA_USER, password=ARMADA_PASSWORD, **extra):
    """An `armada` connection as Airflow reads it from AIRFLOW_CONN_<ID> (JSON form)."""
    extra = {"armada_url": armada_url, "jobservice_url": jobservice_url, **extra}
    return json.dumps({"conn_type": "armada", "login": login, "password": password, "extra": extra})


@pytest.fixture(autouse=True)
def armada_connection(monkeypatch, armada_url, jobservice):
    """The connection the docs describe, as an environment variable (read by every Airflow process)."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_uri_json(armada_url, jobservice.url))


def docs_dag():
    """The DAG in docs/airflow.md, as written there (on Airflow 2, with the import the docs give for it)."""
    text = (ROOT / "docs" / "airflow.md").read_text()
    [dag] = [code for code in re.findall(r"```python\n(.*?)```", text, re.S) if "ArmadaJobOperator(" in code and "with DAG(" in code]
    if not AIRFLOW_3:
        assert "from airflow.sdk import DAG\n" in dag
        dag = dag.replace("from airflow.sdk import DAG\n", "from airflow import DAG\n")
    return dag


@pytest.fixture(scope="session")
def blind_jobservice():
    """A Job Service following an Armada of its own, with no jobs: every job id is JOB_ID_NOT_FOUND to it."""
    from conftest import JobService, Process, QUEUE

    simulator = Process(["simulate", "--port", "0", "--queue", QUEUE, "--basic", f"{ARMADA_USER}:{ARMADA_PASSWORD}"])
    try:
        service = JobService(simulator.wait_for("Armada simulator listening")["url"])
        yield service
        service.stop()
    finally:
        simulator.stop()
