import logging

from airflow.exceptions import TaskDeferred


class BaseOperator:
    def __init__(self, *, task_id, **kwargs):
        self.task_id = task_id
        self.log = logging.getLogger(f"airflow.task.{task_id}")

    def defer(self, *, trigger, method_name, kwargs=None, timeout=None):
        raise TaskDeferred(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)
