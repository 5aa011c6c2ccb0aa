class AirflowException(Exception):
    pass


class TaskDeferred(BaseException):
    def __init__(self, *, trigger, method_name, kwargs=None, timeout=None):
        super().__init__()
        self.trigger = trigger
        self.method_name = method_name
        self.kwargs = kwargs
        self.timeout = timeout
