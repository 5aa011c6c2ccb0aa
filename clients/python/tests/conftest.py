"""Starts the real Armada simulator and the real Job Service (`node bin/jobservice.js`)
on free loopback ports for the tests, and stops them afterwards."""
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = Path(__file__).resolve().parents[1]
try:  # the installed package when there is one (CI installs the wheel), else the sources
    import armada_jobservice  # noqa: F401
except ImportError:
    sys.path.insert(0, str(PACKAGE))

QUEUE = "airflow"
ARMADA_USER, ARMADA_PASSWORD = "alice", "secret"


class Process:
    """A `jobservice` command whose JSON log lines are read on a thread (so its pipe never fills)."""

    def __init__(self, args, env=None):
        self.args = args
        self.child = subprocess.Popen(
            ["node", str(ROOT / "bin" / "jobservice.js"), *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.child.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                self.lines.put({"msg": line.rstrip()})
        self.lines.put(None)

    def wait_for(self, msg, timeout=30.0):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line.get("msg"))
            if line.get("msg") == msg:
                return line
        raise RuntimeError(f"`jobservice {' '.join(self.args)}` did not log {msg!r}; it logged {seen}")

    def stop(self):
        if self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()


class JobService:
    """The Job Service following the simulator; can be stopped and started again on its port."""

    def __init__(self, armada_url):
        self.armada_url = armada_url
        self.port = 0
        self.process = None
        self.start()

    def start(self):
        env = {"ARMADA_USERNAME": ARMADA_USER, "ARMADA_PASSWORD": ARMADA_PASSWORD, "JOBSERVICE_LOG_LEVEL": "info"}
        self.process = Process(["serve", "--host", "127.0.0.1", "--port", str(self.port), "--armada-url", self.armada_url], env)
        self.port = self.process.wait_for("listening")["port"]

    def stop(self):
        self.process.stop()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def armada_url():
    simulator = Process([
        "simulate", "--port", "0", "--queue", QUEUE, "--basic", f"{ARMADA_USER}:{ARMADA_PASSWORD}",
        "--queued-ms", "10..30", "--pending-ms", "10..20", "--start-ms", "10..20", "--run-ms", "100..200", "--cancel-ms", "10..20",
        "--failure-probability", "0", "--preemption-probability", "0", "--lease-return-probability", "0",
    ])
    try:
        yield simulator.wait_for("Armada simulator listening")["url"]
    finally:
        simulator.stop()


@pytest.fixture(scope="session")
def jobservice(armada_url):
    service = JobService(armada_url)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def unused_port():
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def older_server(jobservice):
    """older_server(missing): a stand-in for an older Job Service without the methods in `missing`."""
    from older_server import OlderServer

    started = []

    def start(missing):
        started.append(OlderServer(jobservice.url, frozenset(missing)))
        return started[-1]

    yield start
    for server in started:
        server.close()


OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_TOKEN_PREFIX = "airflow", "client-secret", "oidc"
OIDC_TOKEN_SECONDS = 3


@pytest.fixture(scope="session")
def oidc_provider():
    """A real OIDC token endpoint (test/support/token-endpoint.ts, run as a process): the client credentials
    grant for OIDC_CLIENT_ID, issuing `oidc-1`, `oidc-2`, … that expire after OIDC_TOKEN_SECONDS."""
    child = subprocess.Popen(
        ["node", "--import", "tsx", "test/clients/token-endpoint-main.ts", OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, str(OIDC_TOKEN_SECONDS), OIDC_TOKEN_PREFIX],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        yield json.loads(child.stdout.readline())["issuer"]
    finally:
        child.terminate()
        child.wait(timeout=15)


@pytest.fixture
def armada_accepts(armada_url):
    """armada_accepts(tokens): the simulator takes these bearer tokens as well as the basic credentials, until the test ends."""

    def accept(tokens):
        body = {"credentials": [{"user": ARMADA_USER, "password": ARMADA_PASSWORD}, *({"token": t} for t in tokens)]}
        subprocess.run(
            ["curl", "-sS", "--fail", "--http2-prior-knowledge", "-X", "PUT", "-H", "content-type: application/json", "-d", json.dumps(body), f"{armada_url}/control/auth"],
            check=True, capture_output=True,
        )

    yield accept
    accept([])
