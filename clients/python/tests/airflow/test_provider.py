"""The package as an Airflow provider: what `airflow providers list` and the connection form read."""
from airflow_env import airflow_db  # noqa: F401  (fixture)

from airflow.providers_manager import ProvidersManager  # noqa: E402

import armada_jobservice  # noqa: E402
from armada_jobservice.operator import ArmadaHook  # noqa: E402


def test_airflow_finds_the_provider_through_its_entry_point():
    provider = ProvidersManager().providers["armada-jobservice"]
    assert provider.version == armada_jobservice.__version__
    assert provider.data["name"] == "Armada Job Service"


def test_its_connection_type_is_armada_with_the_hook_that_reads_it():
    hook = ProvidersManager().hooks["armada"]
    assert (hook.hook_class_name, hook.package_name, hook.connection_type) == ("armada_jobservice.operator.ArmadaHook", "armada-jobservice", "armada")
    assert ArmadaHook.default_conn_name == "armada_default"
    assert {"host", "port", "schema"} <= set(ArmadaHook.get_ui_field_behaviour()["hidden_fields"])
