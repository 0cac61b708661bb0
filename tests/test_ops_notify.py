"""systemd integration: READY, WATCHDOG, STATUS and STOPPING on a real NOTIFY_SOCKET.

WATCHDOG and STATUS are sent from ``wfsched_scheduler_tick``: these tests are that hook's
end-to-end test (with the metrics and the daily retention in test_ops_metrics/prune).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Wfsched, wait_until

from wfsched_core.base.config import Settings
from wfsched_core.ops.systemd_notify import SystemdNotify, socket_address, watchdog_seconds


class NotifyListener:
    """A datagram socket standing in for systemd; collects every message it receives."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(socket_address(address))
        self.sock.settimeout(0.05)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (TimeoutError, BlockingIOError):
                return self.messages

    def lines(self) -> list[str]:
        return [line for message in self.drain() for line in message.splitlines()]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotifyListener]:
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
    else:
        address = f"@wfsched-test-{uuid.uuid4().hex}"
    result = NotifyListener(address)
    yield result
    result.close()


def test_ready_watchdog_status_and_stopping_arrive(wf: Wfsched, work_dir: Path,
                                                   listener: NotifyListener) -> None:
    # the test config's heartbeat is 0.5 s: well under half of a 5 s watchdog
    wf.extra_env.update(NOTIFY_SOCKET=listener.address, WATCHDOG_USEC="5000000")
    wf.trigger("hang", seconds=60, dir=work_dir)
    daemon = wf.popen("scheduler", "--max-concurrent", "3")
    try:
        wait_until(lambda: "READY=1" in listener.lines(), 30, "READY=1 from the scheduler")
        wait_until(lambda: listener.lines().count("WATCHDOG=1") >= 3, 30, "watchdog pings")
        wait_until(lambda: "STATUS=running 1/3, pending 0" in listener.lines(), 30,
                   f"a status line with the counts; got {listener.lines()[-5:]}")
        assert listener.lines().index("READY=1") < listener.lines().index("STATUS=running 1/3, pending 0")
        os.kill(daemon.pid, signal.SIGTERM)
        wait_until(lambda: "STOPPING=1" in listener.lines(), 30, "STOPPING=1")
        # a second signal (once the first is handled: signals do not queue) stops the hang
        wait_until(lambda: "waiting up to" in wf.output_of(), 30, "the grace period to start")
        os.kill(daemon.pid, signal.SIGTERM)
        assert daemon.wait(30) == 0
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(10)
    assert "watchdog" not in wf.output_of().lower()  # no warning about the interval


def test_without_watchdog_no_pings(wf: Wfsched, tmp_path: Path) -> None:
    listener = NotifyListener(str(tmp_path / "n.sock"))
    try:
        wf.extra_env.update(NOTIFY_SOCKET=listener.address)
        wf.trigger("noop")
        wf.run("scheduler", "--once")
        lines = listener.lines()
        assert "READY=1" in lines and "STOPPING=1" in lines
        assert "WATCHDOG=1" not in lines
    finally:
        listener.close()


def _settings(tmp_path: Path, heartbeat: float) -> Settings:
    return Settings(home=tmp_path, database_url="sqlite://",
                    data={"scheduler": {"heartbeat_interval": heartbeat}})


def test_watchdog_shorter_than_two_heartbeats_is_warned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "none.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "3000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    plugin = SystemdNotify()
    with caplog.at_level(logging.WARNING):
        plugin.wfsched_configure(_settings(tmp_path, 2.0))
    assert plugin.watchdog == 3.0
    assert "set heartbeat_interval below 1.5s" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        plugin.wfsched_configure(_settings(tmp_path, 1.0))
    assert caplog.text == ""


def test_watchdog_meant_for_another_process_is_ignored() -> None:
    assert watchdog_seconds({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}, 999) is None
    assert watchdog_seconds({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "999"}, 999) == 1.0
    assert watchdog_seconds({"WATCHDOG_USEC": "bad"}, 999) is None
    assert watchdog_seconds({}, 999) is None
