"""The `authorization` header value, as armadactl sends it."""
import base64


def authorization_header(username=None, password=None, token=None):
    """`Bearer <token>`, or `basic <base64(user:password)>`, or None for no credentials."""
    if token:
        return f"Bearer {token}"
    if username:
        pair = f"{username}:{password or ''}".encode()
        return "basic " + base64.b64encode(pair).decode("ascii")
    return None
