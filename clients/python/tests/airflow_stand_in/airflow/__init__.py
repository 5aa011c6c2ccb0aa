"""A stand-in for the few Airflow names armada_jobservice.operator uses (Airflow cannot be
installed here). Same module paths and signatures as Airflow 2.x; no behaviour beyond what
the operator relies on: defer() raises TaskDeferred, connections come from CONNECTIONS."""
