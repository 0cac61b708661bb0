"""``wfsched status``, ``--watch``, the ``--once`` progress bar and ``--log-format json``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from helpers import Wfsched, wait_until
from helpers import run_in_terminal as _run_in_terminal

from wfsched_core.cli.once_progress import progress_line


@pytest.fixture
def daemon(wf: Wfsched):
    process = wf.popen("scheduler", "--max-concurrent", "2")
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_status_json_shows_schedulers_running_pending_and_failures(
        wf: Wfsched, work_dir: Path, daemon) -> None:
    (crashed,) = wf.trigger("crash", dir=work_dir)
    wf.wait_for_status(crashed, "failed")
    hanging = wf.trigger("hang", count=3, seconds=60, dir=work_dir)
    wait_until(lambda: len(wf.records(work_dir, "started")) >= 2, 30, "two workers running")
    status = wf.json("status")
    assert set(status) == {"time", "schedulers", "running", "pending", "waiting",
                           "failed_last_24h",
                           "completed_last_24h", "slots", "plugins_skipped"}
    assert status["plugins_skipped"] == {}  # no plugin overran its budget
    (scheduler,) = status["schedulers"]
    assert scheduler["pid"] == daemon.pid and scheduler["max_concurrent"] == 2
    assert scheduler["heartbeat_age"] < 10
    assert status["slots"] == {"in_use": 2, "max": 2}
    assert status["pending"] == 1
    assert status["failed_last_24h"] == 1
    running = {r["id"]: r for r in status["running"]}
    assert set(running) <= set(hanging) and len(running) == 2
    pids = {r["pid"] for r in wf.records(work_dir, "started")}
    for row in running.values():
        assert row["workflow"] == "hang" and row["pid"] in pids and row["host"]
        assert row["run_seconds"] >= 0 and row["scheduler"] == scheduler["id"]
    text = wf.run("status").stdout
    assert "slots in use 2/2, pending 1, failed in the last 24 h 1" in text
    assert "hang" in text and str(daemon.pid) in text


def test_status_watch_refreshes_until_interrupted(wf: Wfsched) -> None:
    process = subprocess.Popen(wf.argv("status", "--watch", "--json", "--interval", "0.2"),
                               env=wf.env, cwd=wf.home, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        snapshots = [json.loads(process.stdout.readline()) for _ in range(2)]  # type: ignore[union-attr]
        assert all(s["pending"] == 0 for s in snapshots)
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        assert "Traceback" not in process.stderr.read()  # type: ignore[union-attr]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_status_watch_redraws_in_place_in_a_terminal(wf: Wfsched) -> None:
    code, output = _run_in_terminal(wf, "status", "--watch", "--interval", "0.2",
                                    interrupt_when="running: none")
    assert code == 0, output
    assert output.startswith("\x1b[H\x1b[2J") and "slots in use 0/0" in output
    assert "Traceback" not in output


def test_once_shows_a_progress_bar_in_a_terminal(wf: Wfsched, work_dir: Path) -> None:
    wf.trigger("mark", count=4, seconds=0.5, dir=work_dir)
    code, output = _run_in_terminal(wf, "scheduler", "--once", "--max-concurrent", "2")
    assert code == 0, output
    assert "\r[" in output and "\x1b[K" in output
    assert "running 2" in output
    assert "4/4  completed 4  failed 0  running 0  pending 0" in output \
        or "ran 4 execution(s): 4 completed" in output
    # a pipe (cron) gets no bar, only the summary line
    wf.trigger("noop")
    piped = wf.run("scheduler", "--once")
    assert "\r" not in piped.stdout + piped.stderr and "\x1b" not in piped.stdout + piped.stderr


def test_progress_line() -> None:
    line = progress_line({"completed": 3, "failed": 1, "cancelled": 0, "running": 2,
                          "pending": 2})
    assert line == "[" + "#" * 15 + "." * 15 + "] 4/8  completed 3  failed 1  running 2  pending 2"
    assert progress_line(dict.fromkeys(("completed", "failed", "cancelled", "running",
                                        "pending"), 0)).startswith("[" + "." * 30 + "] 0/0")


def test_log_format_json_is_one_object_per_line(wf: Wfsched) -> None:
    wf.trigger("noop")
    result = wf.run("-v", "--log-format", "json", "scheduler", "--once")
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert records, result.stderr
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
        assert record["time"].endswith("Z")
    assert any(r["level"] == "info" and r["logger"].startswith("wfsched") for r in records)
