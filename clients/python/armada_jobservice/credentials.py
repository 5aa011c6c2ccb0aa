"""Credentials from an Airflow connection's fields, as armadactl's methods: basic auth, a static
token, OIDC client credentials, or a command that prints a token (armadactl's execAuth).

Issued tokens live in one cache per process, keyed by the connection and its settings, so all the
triggers of a triggerer that use one connection share one token, renewed shortly before it expires.
No Airflow import here: operator.py reads the connection and hands its fields over.
"""
import base64
import hashlib
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from .auth import authorization_header
from .errors import CredentialsError

# A token is renewed once this share of its lifetime has passed (at most RENEW_AHEAD_SECONDS early).
RENEW_AT = 0.9
RENEW_AHEAD_SECONDS = 60.0
EXEC_TIMEOUT_SECONDS = 30.0
EXEC_CACHE_SECONDS = 300.0
HTTP_TIMEOUT_SECONDS = 10.0
METHODS = ("basic", "token", "oidc-client-credentials", "exec")

_tokens = {}  # cache key -> (header, renew_at)
_locks = {}  # cache key -> Lock, so concurrent triggers ask the issuer once
_guard = threading.Lock()


@dataclass(frozen=True)
class Credentials:
    """A callable that returns the `authorization` header value (or None). Equal credentials share
    a cache entry and, in the trigger, a poller."""

    key: str
    _issue: object = field(compare=False, repr=False)

    def __call__(self):
        return self._issue(self.key)


def from_connection(conn_id, login, password, extra, now=time.time):
    """The connection's credentials: extra["auth"] picks the method (default: basic when there is a
    login, a token when extra has one, else none). Errors name the setting, never its value."""
    method = extra.get("auth") or ("token" if extra.get("token") else "basic" if login else None)
    if method is None:
        return None
    if method not in METHODS:
        raise ValueError(f"Airflow connection {conn_id!r}: extra field \"auth\" is {method!r}; expected one of {', '.join(METHODS)}")
    settings = {"login": login, "password": password, **{k: v for k, v in extra.items() if k not in ("armada_url", "jobservice_url")}}
    key = conn_id + ":" + hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
    if method in ("basic", "token"):
        header = authorization_header(login, password) if method == "basic" else authorization_header(token=_required(conn_id, extra, "token"))
        return Credentials(key, lambda _key: header)
    if method == "oidc-client-credentials":
        provider = _required(conn_id, extra, "oidc_provider_url")
        if not login or not password:
            raise ValueError(f"Airflow connection {conn_id!r}: OIDC client credentials need the client id as login and the client secret as password")
        issue = lambda: _client_credentials(conn_id, provider, login, password, extra.get("oidc_scopes", ""))  # noqa: E731
    else:
        command = _required(conn_id, extra, "exec")
        if not isinstance(command, dict) or not command.get("cmd"):
            raise ValueError(f"Airflow connection {conn_id!r}: extra field \"exec\" needs \"cmd\" (and optionally \"args\", \"env\", \"cache_seconds\")")
        issue = lambda: _exec_token(conn_id, command, now)  # noqa: E731
    return Credentials(key, lambda cache_key: cached(cache_key, issue, now))


def cached(key, issue, now=time.time):
    """The header for `key`, from the cache while it is fresh, else from `issue()` -> (header, lifetime seconds)."""
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        entry = _tokens.get(key)
        if entry is not None and now() < entry[1]:
            return entry[0]
        header, lifetime = issue()
        _tokens[key] = (header, now() + lifetime - min(RENEW_AHEAD_SECONDS, lifetime * (1 - RENEW_AT)))
        return header


def forget_tokens():
    """Empties the cache (tests; a process that rotated its secrets)."""
    with _guard:
        _tokens.clear()


def _required(conn_id, extra, name):
    value = extra.get(name)
    if not value:
        raise ValueError(f"Airflow connection {conn_id!r}: extra field {name!r} is missing")
    return value


def _client_credentials(conn_id, provider_url, client_id, client_secret, scopes):
    discovery = _get_json(conn_id, provider_url.rstrip("/") + "/.well-known/openid-configuration", None)
    token_url = discovery.get("token_endpoint")
    if not token_url:
        raise CredentialsError("unauthenticated", f"Airflow connection {conn_id!r}: the OIDC provider {provider_url} names no token_endpoint")
    form = {"grant_type": "client_credentials", **({"scope": scopes} if scopes else {})}
    basic = base64.b64encode(f"{urllib.parse.quote(client_id)}:{urllib.parse.quote(client_secret)}".encode()).decode()
    reply = _get_json(conn_id, token_url, urllib.parse.urlencode(form).encode(), {"authorization": f"Basic {basic}"})
    token, lifetime = reply.get("access_token"), reply.get("expires_in", EXEC_CACHE_SECONDS)
    if not token:
        raise CredentialsError("unauthenticated", f"Airflow connection {conn_id!r}: the OIDC token endpoint {token_url} answered without an access_token")
    return f"Bearer {token}", float(lifetime)


def _get_json(conn_id, url, body, headers=None):
    request = urllib.request.Request(url, data=body, headers={"accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as error:
        reason = _oauth_error(error)
        raise CredentialsError("unauthenticated", f"Airflow connection {conn_id!r}: the OIDC provider refused the client credentials at {url}: HTTP {error.code}{reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise CredentialsError("unavailable", f"Airflow connection {conn_id!r}: could not reach the OIDC provider at {url}: {getattr(error, 'reason', error)}") from None


def _oauth_error(error):
    try:
        return f" ({json.loads(error.read())['error']})"
    except (ValueError, KeyError, TypeError, OSError):
        return ""


def _exec_token(conn_id, command, now):
    """Runs the command (no shell) and takes its trimmed stdout as the token. Neither its stdout nor its
    stderr reaches an error: a failing helper may print the secret it was given."""
    argv = [command["cmd"], *command.get("args", [])]
    env = {**os.environ, **{str(k): str(v) for k, v in command.get("env", {}).items()}}
    what = f"Airflow connection {conn_id!r}: the token command {command['cmd']!r}"
    try:
        done = subprocess.run(argv, env=env, capture_output=True, timeout=EXEC_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise CredentialsError("unavailable", f"{what} did not finish within {EXEC_TIMEOUT_SECONDS:.0f} s") from None
    except OSError as error:
        raise CredentialsError("unavailable", f"{what} could not be run: {error.strerror}") from None
    token = done.stdout.decode(errors="replace").strip()
    if done.returncode != 0 or not token or any(c.isspace() for c in token):
        problem = f"exited {done.returncode}" if done.returncode != 0 else "printed no single-word token"
        raise CredentialsError("unauthenticated", f"{what} {problem} (output not shown, as it may hold secrets)")
    expiry = _jwt_expiry(token)
    lifetime = float(command.get("cache_seconds", EXEC_CACHE_SECONDS)) if expiry is None else expiry - now()
    if lifetime <= 0:
        raise CredentialsError("unauthenticated", f"{what} printed a JWT that has already expired")
    return f"Bearer {token}", lifetime


def _jwt_expiry(token):
    """A JWT's `exp` (seconds since the epoch), or None for an opaque token. The signature is the server's business."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, (int, float)) else None
