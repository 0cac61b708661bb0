"""Fixtures of the web dashboard's tests: a running ``wfsched web`` and a scheduler.

Holds no test itself; the ``test_web_*`` modules import its fixtures.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from helpers import Wfsched, wait_until

httpx = pytest.importorskip("httpx", reason="tests/requirements-web.txt is not installed")

TOKEN = "test-token-8c1f0e"
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen[str]) -> None:
    """Stop a process group started by ``wf.popen``: TERM, then KILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@dataclass
class WebServer:
    """A running ``wfsched web`` and an HTTP client for it."""

    wf: Wfsched
    process: subprocess.Popen[str]
    url: str
    token: str | None
    client: Any

    def get(self, path: str, token: str | None = "default", **kwargs: Any) -> Any:
        """GET with the right bearer token (reading needs it), another one, or none."""
        return self.client.get(path, headers=self._headers(token, kwargs), **kwargs)

    def post(self, path: str, token: str | None = "default", **kwargs: Any) -> Any:
        """POST with the right bearer token, another one, or none (``token=None``)."""
        return self.client.post(path, headers=self._headers(token, kwargs), **kwargs)

    def _headers(self, token: str | None, kwargs: dict[str, Any]) -> dict[str, str]:
        headers = dict(kwargs.pop("headers", {}))
        token = self.token if token == "default" else token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def execution(self, execution_id: int) -> dict[str, Any]:
        response = self.get(f"/api/executions/{execution_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_status(self, execution_id: int, *statuses: str,
                        timeout: float = 30) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            execution = self.execution(execution_id)
            return execution if execution["status"] in statuses else None

        return wait_until(reached, timeout, f"execution {execution_id} via the API to reach "
                                            f"{'/'.join(statuses)}", interval=0.2)


def start_web(wf: Wfsched, *args: str, token: str | None = TOKEN,
              name: str = "web") -> WebServer:
    """``wfsched web`` on a free port; returns once it answers."""
    if token is not None:
        wf.extra_env["WFSCHED_WEB_TOKEN"] = token
    port = free_port()
    process = wf.popen("web", "--port", str(port), *args, name=name)
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, timeout=60)

    def answering() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"wfsched web exited {process.returncode}:\n"
                                 f"{wf.output_of(name)}")
        try:
            return client.get("/openapi.json").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answering, STARTUP_SECONDS, "wfsched web to answer", interval=0.2)
    return WebServer(wf, process, url, token, client)


@pytest.fixture
def web(wf: Wfsched) -> Iterator[WebServer]:
    """A running dashboard with a token (no scheduler)."""
    server = start_web(wf)
    yield server
    server.client.close()
    stop(server.process)
    assert "Traceback" not in wf.output_of("web"), wf.output_of("web")


@pytest.fixture
def scheduler(wf: Wfsched) -> Iterator[subprocess.Popen[str]]:
    """A running scheduler with three slots."""
    process = wf.popen("scheduler", "--max-concurrent", "3", name="sched")
    yield process
    stop(process)
