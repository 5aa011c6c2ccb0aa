"""Errors from the Job Service and from Armada, with their gRPC/Connect code."""

# Codes after which the same call may well succeed later: the pollers wait and retry.
TRANSIENT_CODES = frozenset({"unavailable", "deadline_exceeded", "resource_exhausted", "aborted", "unknown"})


class RpcError(Exception):
    """A call that did not get an answer. `code` is the Connect code name (`unavailable`, …)."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def transient(self):
        return self.code in TRANSIENT_CODES


class JobServiceError(RpcError):
    """The Job Service could not be reached or refused the call."""


class ArmadaError(RpcError):
    """Armada could not be reached, refused the call or rejected the job."""


class CredentialsError(RpcError):
    """No token could be had for a call (the OIDC provider or the token command failed). The clients
    raise it as their own error class, so pollers treat an outage of the provider like one of the server."""


def resolve_authorization(authorization, error_class):
    """The header value: `authorization` itself, or what it returns when it is a callable (credentials.Credentials)."""
    if not callable(authorization):
        return authorization
    try:
        return authorization()
    except CredentialsError as error:
        raise error_class(error.code, error.message) from None
