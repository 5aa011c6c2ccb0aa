class BaseTrigger:
    def __init__(self, **kwargs):
        pass


class TriggerEvent:
    def __init__(self, payload):
        self.payload = payload
