"""DAGs with ArmadaJobOperator run by real Airflow's `dag.test()` (which runs a deferred task's trigger
inline), against the Armada simulator and the Job Service: the task ends as the Armada job ended."""
import os
import subprocess
import sys
import warnings

import pytest

from airflow_env import AIRFLOW_3, CONN_ID, DAGS, airflow_db, armada_connection, blind_jobservice, connection_uri_json, docs_dag  # noqa: F401  (fixtures)
from conftest import OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_TOKEN_PREFIX, QUEUE  # noqa: E402
from helpers import simulator_jobs  # noqa: E402

DAG_FILE = """\
import pendulum
{dag_import}
from armada_jobservice.operator import ArmadaJobOperator

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    ArmadaJobOperator(task_id="job", armada_conn_id={conn_id!r}, armada_queue={queue!r}, job_request_item={item!r}, poll_interval=0.2, **{args!r})
"""


def run_dag(armada_url, dag_id, annotations, **operator_args):
    """One task in a DAG file of its own (Airflow 3 runs a DAG from its file), one dag.test();
    (the task's state, the outcomes of the jobs the simulator ran for the run)."""
    dag_import = "from airflow.sdk import DAG" if AIRFLOW_3 else "from airflow import DAG"
    code = DAG_FILE.format(dag_import=dag_import, dag_id=dag_id, conn_id=CONN_ID, queue=QUEUE, item={"annotations": annotations}, args=operator_args)
    run = dag_from_file(dag_id, code).test()
    return task_state(run, "job"), [job["outcome"]["state"] for job in simulator_jobs(armada_url, run.run_id)]


def task_state(run, task_id):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        [ti] = session.query(TaskInstance).filter_by(dag_id=run.dag_id, run_id=run.run_id, task_id=task_id).all()
        return str(ti.state)


IMPORT_RECORDING_WARNINGS = """
import warnings
import airflow  # first: its logging set-up replaces warnings.showwarning, which recording needs to own
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    import armada_jobservice.operator, armada_jobservice.provider
# Airflow's deprecations (2.x RemovedInAirflow3Warning; 3.x DeprecatedImportWarning, RemovedInAirflow4Warning)
# name the importing line: any warning pointing into this package is ours. Airflow 2.11 also warns about
# its own settings on import: those point into Airflow.
ours = [f"{w.category.__name__}: {w.message}" for w in seen if "/armada_jobservice/" in w.filename]
print("\\n".join(ours) or "no warnings")
"""


def test_importing_the_operator_warns_about_nothing():
    # A fresh interpreter, so the import really happens here.
    done = subprocess.run([sys.executable, "-c", IMPORT_RECORDING_WARNINGS], capture_output=True, text=True, env=os.environ)
    assert (done.returncode, done.stdout.strip()) == (0, "no warnings"), done.stderr[-2000:]


def test_the_check_above_catches_an_import_from_a_deprecated_path(tmp_path):
    deprecated = "from airflow.exceptions import TaskDeferred" if AIRFLOW_3 else "from airflow.operators.dummy import DummyOperator"
    (tmp_path / "armada_jobservice").mkdir()
    (tmp_path / "armada_jobservice" / "__init__.py").write_text("")
    (tmp_path / "armada_jobservice" / "operator.py").write_text(deprecated + "\n")
    (tmp_path / "armada_jobservice" / "provider.py").write_text("")
    done = subprocess.run([sys.executable, "-c", IMPORT_RECORDING_WARNINGS], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert "Warning: " in done.stdout, done.stdout + done.stderr[-2000:]


def dagbag_of(dag_id, code):
    """`code` as a DAG file in the DAGs folder (Airflow 3's dag.test() finds a DAG's code through its bundle), parsed."""
    if AIRFLOW_3:
        from airflow.dag_processing.dagbag import DagBag
    else:
        from airflow.models.dagbag import DagBag

    path = DAGS / f"{dag_id}.py"
    path.write_text(code)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        return DagBag(dag_folder=str(path), safe_mode=False)  # include_examples follows LOAD_EXAMPLES (off)


def dag_from_file(dag_id, code):
    bag = dagbag_of(dag_id, code)
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


def test_the_docs_dag_parses_in_a_dagbag_without_import_errors():
    bag = dagbag_of("armada_hello", docs_dag())
    assert bag.import_errors == {}
    assert [task.task_id for task in bag.get_dag("armada_hello").tasks] == ["hello"]


def test_the_docs_dag_runs_its_container_job_to_success(armada_url):
    run = dag_from_file("armada_hello", docs_dag()).test()
    assert str(run.state) == "success"
    assert task_state(run, "hello") == "success"
    assert [job["outcome"]["state"] for job in simulator_jobs(armada_url, run.run_id)] == ["succeeded"]


@pytest.mark.parametrize("deferrable", [False, True], ids=["polling", "deferred"])
def test_a_job_that_succeeds_makes_a_successful_task(deferrable, armada_url):
    assert run_dag(armada_url, f"succeeds_{deferrable}", {"armada-sim/duration-ms": "100"}, deferrable=deferrable) == ("success", ["succeeded"])


@pytest.mark.parametrize("deferrable", [False, True], ids=["polling", "deferred"])
def test_a_job_that_fails_fails_the_task_with_the_jobs_reason(deferrable, armada_url, capfd):
    annotations = {"armada-sim/exit-code": "3", "armada-sim/reason": "disk full", "armada-sim/duration-ms": "50"}
    assert run_dag(armada_url, f"fails_{deferrable}", annotations, deferrable=deferrable) == ("failed", ["failed"])
    assert "ended FAILED: disk full" in "".join(capfd.readouterr())


@pytest.mark.parametrize("deferrable", [False, True], ids=["polling", "deferred"])
def test_a_cancelled_job_fails_the_task(deferrable, armada_url, capfd):
    annotations = {"armada-sim/outcome": "cancelled", "armada-sim/reason": "cancelled by an operator", "armada-sim/duration-ms": "50"}
    assert run_dag(armada_url, f"cancelled_{deferrable}", annotations, deferrable=deferrable) == ("failed", ["cancelled"])
    assert "ended CANCELLED" in "".join(capfd.readouterr())


@pytest.mark.parametrize("deferrable", [False, True], ids=["polling", "deferred"])
def test_a_job_the_job_service_never_hears_of_fails_the_task_at_the_not_found_deadline(deferrable, armada_url, blind_jobservice, capfd):
    # The job goes to the simulator; the Job Service asked follows another Armada, which never had it.
    annotations = {"armada-sim/duration-ms": "100"}
    outcome = run_dag(armada_url, f"not_found_{deferrable}", annotations, deferrable=deferrable, jobservice_url=blind_jobservice.url, not_found_timeout=1.0)
    assert outcome == ("failed", ["succeeded"])
    assert "not found" in "".join(capfd.readouterr())


def test_a_deferred_task_signs_in_with_the_connections_oidc_client_credentials(armada_url, jobservice, oidc_provider, armada_accepts, monkeypatch):
    armada_accepts([f"{OIDC_TOKEN_PREFIX}-{n}" for n in range(1, 100)])
    connection = connection_uri_json(
        armada_url, jobservice.url, login=OIDC_CLIENT_ID, password=OIDC_CLIENT_SECRET, auth="oidc-client-credentials", oidc_provider_url=oidc_provider,
    )
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", connection)
    assert run_dag(armada_url, "oidc_signed_in", {"armada-sim/duration-ms": "100"}, deferrable=True) == ("success", ["succeeded"])
