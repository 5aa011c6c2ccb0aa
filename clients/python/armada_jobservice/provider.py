"""What `airflow providers list` shows for this package (entry point `apache_airflow_provider`).
No Airflow import: Airflow reads this before it imports the hook it names."""
from . import __version__


def get_provider_info():
    return {
        "package-name": "armada-jobservice",
        "name": "Armada Job Service",
        "description": "Runs Armada jobs from Airflow and waits for them through the Armada Job Service.",
        "versions": [__version__],
        "connection-types": [{"hook-class-name": "armada_jobservice.operator.ArmadaHook", "connection-type": "armada"}],
    }
