import json
from types import SimpleNamespace

# conn_id -> {"login": …, "password": …, "extra": "{…}"}, set by the tests.
CONNECTIONS = {}


class BaseHook:
    @classmethod
    def get_connection(cls, conn_id):
        fields = CONNECTIONS[conn_id]
        return SimpleNamespace(login=fields.get("login"), password=fields.get("password"), extra_dejson=json.loads(fields.get("extra", "{}")))
