"""The whole real thing, on Airflow 3: a SQLite metadata DB, and the API server, scheduler (LocalExecutor),
DAG processor and triggerer each as a process of its own. The docs' DAG is triggered from the CLI and
followed to `success`, its deferred task's trigger running in the triggerer. Run by
test/clients/airflow-deployment.test.ts only (it takes minutes); every process is stopped by its PID."""
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_env import AIRFLOW_3, CONN_ID, DAGS, HOME, airflow_db, connection_uri_json, docs_dag  # noqa: F401  (fixture)

from conftest import ARMADA_PASSWORD, ARMADA_USER  # noqa: E402
from helpers import simulator_jobs  # noqa: E402

AIRFLOW = str(Path(sys.executable).parent / "airflow")
DEADLINE_SECONDS = 420


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Component:
    """One `airflow <command>` process, its output in a file (shown when the test fails)."""

    def __init__(self, name, args, env):
        self.name = name
        self.log = HOME / f"{name}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen([AIRFLOW, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        # Its own session: the group holds whatever it started (executor workers, supervisors).
        for sig, wait in ((15, 30), (9, 10)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue


def query(sql, *args):
    with sqlite3.connect(f"file:{HOME / 'airflow.db'}?mode=ro", uri=True, timeout=30) as db:
        return db.execute(sql, args).fetchall()


def run_state(run_id):
    [row] = query("select state from dag_run where run_id = ?", run_id) or [(None,)]
    return row[0]


def until(what, predicate, components, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        dead = [c.name for c in components if c.process.poll() is not None]
        assert not dead, f"{', '.join(dead)} exited while waiting for {what}"
        time.sleep(1)
    raise AssertionError(f"no {what} within {timeout} s")


@pytest.fixture(scope="module")
def slow_armada():
    """An Armada whose jobs run for 20 s, as real ones run for a while: a job that ends within a second of
    its deferral races Airflow's own bookkeeping of the deferral (the executor reports the deferring
    worker's exit after the trigger has fired, and the scheduler then fails the resumed task)."""
    from conftest import JobService, Process, QUEUE

    simulator = Process(["simulate", "--port", "0", "--queue", QUEUE, "--basic", f"{ARMADA_USER}:{ARMADA_PASSWORD}", "--run-ms", "20000..20000", "--failure-probability", "0", "--preemption-probability", "0", "--lease-return-probability", "0"])
    try:
        url = simulator.wait_for("Armada simulator listening")["url"]
        service = JobService(url)
        yield url, service.url
        service.stop()
    finally:
        simulator.stop()


@pytest.fixture
def deployment(slow_armada, monkeypatch):
    assert AIRFLOW_3, "this deployment is Airflow 3's (API server, DAG processor)"
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection_uri_json(*slow_armada))
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        # The log servers of the scheduler's workers and of the triggerer, on fixed ports unless told.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    }
    (DAGS / "armada_hello.py").write_text(docs_dag())
    components = []
    try:
        for name, args in (("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]), ("scheduler", ["scheduler"]), ("dag-processor", ["dag-processor"]), ("triggerer", ["triggerer"])):
            components.append(Component(name, args, env))
        yield env, components
    finally:
        for component in components:
            component.stop()


def test_a_triggered_run_of_the_docs_dag_succeeds_with_its_trigger_in_the_triggerer(deployment, slow_armada):
    env, components = deployment
    try:
        until("parsed armada_hello DAG", lambda: query("select 1 from dag where dag_id = 'armada_hello' and is_stale = 0"), components, 240)
        trigger = subprocess.run([AIRFLOW, "dags", "trigger", "armada_hello", "--run-id", "deployed-1", "-o", "json"], env=env, capture_output=True, text=True, timeout=180)
        assert trigger.returncode == 0, trigger.stderr[-2000:]
        state = until("finished run", lambda: run_state("deployed-1") in ("success", "failed") and run_state("deployed-1"), components, DEADLINE_SECONDS)
        assert state == "success"
        assert query("select state from task_instance where run_id = 'deployed-1' and task_id = 'hello'") == [("success",)]
        # The triggerer writes what a trigger logs beside the task's log, as <attempt>.log.trigger.<triggerer job id>.log.
        task_logs = HOME / "logs" / "dag_id=armada_hello" / "run_id=deployed-1" / "task_id=hello"
        trigger_logs = [path.read_text() for path in task_logs.glob("attempt=1.log.trigger.*.log")]
        assert len(trigger_logs) == 1 and "Trigger fired event" in trigger_logs[0] and "'state': 'SUCCEEDED'" in trigger_logs[0]
        assert [job["outcome"]["state"] for job in simulator_jobs(slow_armada[0], "deployed-1")] == ["succeeded"]
    except BaseException:
        for component in components:
            print(f"----- {component.name} (last 4000 characters) -----\n{component.output()[-4000:]}")
        for path in sorted((HOME / "logs").glob("dag_id=armada_hello/**/*.log")):
            print(f"----- {path.relative_to(HOME)} (last 6000 characters) -----\n{path.read_text(errors='replace')[-6000:]}")
        raise
