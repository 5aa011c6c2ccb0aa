"""A stand-in for an older Job Service over Connect JSON: it answers the methods it is told it lacks as
this service answers a method it does not have (HTTP 404, {"code": "unimplemented", …}), and passes
every other unary call on to the real service. It records every call it gets."""
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORWARDED_HEADERS = ("content-type", "authorization", "connect-protocol-version", "connect-timeout-ms")


class OlderServer:
    def __init__(self, upstream_url, missing):
        self.calls = []  # (method, request message as JSON, or None for a stream's envelope)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's name
                method = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                streamed = self.headers.get("content-type", "").startswith("application/connect+")
                server.calls.append((method, None if streamed else json.loads(body)))
                if method in missing:
                    self._answer(404, json.dumps({"code": "unimplemented", "message": f"method {self.path} is not implemented"}).encode())
                    return
                headers = {name: self.headers[name] for name in FORWARDED_HEADERS if self.headers.get(name)}
                request = urllib.request.Request(upstream_url + self.path, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        self._answer(response.status, response.read())
                except urllib.error.HTTPError as error:
                    self._answer(error.code, error.read())

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"

    def methods(self):
        return [method for method, _ in self.calls]

    def close(self):
        self._http.shutdown()
        self._http.server_close()
