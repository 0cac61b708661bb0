"""A Redis server started by the test, and Celery workers each on a host of its own
(``unshare --uts`` with a host name set before the worker starts, as the multi-host
tests do for schedulers)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers import PYTHON, Wfsched, wait_until

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Runs as: python -c CODE HOSTNAME PROGRAM ARGS...: set the host name, then become PROGRAM.
_SET_HOSTNAME_THEN_EXEC = (
    "import os, socket, sys; socket.sethostname(sys.argv[1]); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing server is a failure)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A real ``redis-server`` on a free port, without persistence; stop and start it
    again on the same port to play a broker that goes away (and comes back empty)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.directory)]
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - closed by the OS
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.ping, 20, f"redis-server on port {self.port} to answer", 0.05)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # gone at once, and its queues with it (no persistence)
            self.process.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        _missing("redis-server is not installed (apt-get install redis-server)")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def uts_namespaces() -> None:
    probe = subprocess.run(["unshare", "--uts", "true"], capture_output=True) \
        if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        detail = "the unshare command is missing" if probe is None else \
            probe.stderr.decode(errors="replace").strip()
        reason = f"cannot create a UTS namespace here (unshare --uts needs root): {detail}"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true runs as root: this must work there)")
        pytest.skip(reason)


class CeleryHosts:
    """``wfsched celery-worker`` processes, each on a host of its own name."""

    def __init__(self, wf: Wfsched, broker_url: str) -> None:
        self.wf = wf
        self.broker_url = broker_url
        self.processes: dict[str, subprocess.Popen[str]] = {}

    @property
    def env(self) -> dict[str, str]:
        return dict(self.wf.env, WFSCHED_CELERY_BROKER_URL=self.broker_url)

    def start(self, host: str, concurrency: int = 3,
              queues: tuple[str, ...] = ()) -> subprocess.Popen[str]:
        out = open(self.wf.home / f"{host}.out", "w")  # noqa: SIM115 - closed by the OS
        queue_args = [arg for queue in queues for arg in ("--queue", queue)]
        argv = ["unshare", "--uts", PYTHON, "-c", _SET_HOSTNAME_THEN_EXEC, host,
                *self.wf.argv("celery-worker", "--name", f"wfsched@{host}",
                              "--concurrency", str(concurrency), *queue_args,
                              "--without-gossip", "--without-mingle")]
        process = subprocess.Popen(argv, env=self.env, cwd=self.wf.home, text=True,
                                   stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[host] = process
        wait_until(lambda: " ready." in self.output_of(host) or process.poll() is not None,
                   90, f"the Celery worker of {host} to be ready", 0.2)
        assert process.poll() is None, self.output_of(host)
        return process

    def output_of(self, host: str) -> str:
        return self.wf.output_of(host)

    def kill(self, host: str) -> None:
        """The host is lost: SIGKILL the worker and every process under it."""
        process = self.processes[host]
        try:
            tree = [psutil.Process(process.pid),
                    *psutil.Process(process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for member in tree:
            try:
                member.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        process.wait(10)

    def kill_all(self) -> None:
        for host in self.processes:
            self.kill(host)


@pytest.fixture
def celery_hosts(uts_namespaces: None, wf: Wfsched, redis_server: RedisServer,
                 ) -> Iterator[CeleryHosts]:
    hosts = CeleryHosts(wf, redis_server.url)
    wf.extra_env["WFSCHED_CELERY_BROKER_URL"] = redis_server.url
    yield hosts
    hosts.kill_all()
