"""The README's DAG ("Using it from Airflow") compiles, and what it uses exists in this package."""
import ast
import importlib
import inspect
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "airflow_stand_in"))

from armada_jobservice import protos  # noqa: E402
from armada_jobservice.operator import ArmadaJobOperator  # noqa: E402

from conftest import ROOT  # noqa: E402

# BaseOperator arguments the DAG may pass through **kwargs (Airflow's own, not this package's).
BASE_OPERATOR_ARGUMENTS = {"task_id", "retries", "retry_delay", "execution_timeout", "pool", "queue", "dag"}


def readme_dag():
    readme = (ROOT / "README.md").read_text()
    [dag] = [code for code in re.findall(r"```python\n(.*?)```", readme, re.S) if "ArmadaJobOperator(" in code]
    return dag


def test_it_compiles():
    compile(readme_dag(), "readme_dag.py", "exec")


def test_its_imports_resolve_in_this_package_or_the_standard_library():
    for node in ast.walk(ast.parse(readme_dag())):
        if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] != "airflow":
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module}.{alias.name}"


def test_it_calls_the_operator_with_arguments_it_takes_and_a_real_submit_item():
    [call] = [n for n in ast.walk(ast.parse(readme_dag())) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "ArmadaJobOperator"]
    own = set(inspect.signature(ArmadaJobOperator.__init__).parameters) - {"self", "kwargs"}
    for keyword in call.keywords:
        assert keyword.arg in own | BASE_OPERATOR_ARGUMENTS, keyword.arg
    required = {name for name, p in inspect.signature(ArmadaJobOperator.__init__).parameters.items() if p.default is inspect.Parameter.empty and p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert required <= {keyword.arg for keyword in call.keywords}
    item = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "job_request_item"))
    fields = set(protos.message_class("api.JobSubmitRequestItem").DESCRIPTOR.fields_by_name)
    assert set(item) <= fields
