"""``wfsched status --check`` and ``/healthz``/``/readyz`` on the metrics port: one verdict.

Real schedulers, real signals (SIGSTOP makes a heartbeat go stale), real HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import pytest
from conftest import IN_CI
from helpers import Wfsched, wait_until

try:
    import prometheus_client  # noqa: F401 - the metrics port needs it
except ImportError:  # pragma: no cover - installed by scripts/setup.sh
    if IN_CI:
        raise
    pytest.skip("prometheus_client is not installed (wfsched-core[metrics])",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str) -> tuple[int, dict]:
    """(status, JSON body) of GET ``path`` on the metrics port; 503 is an answer too."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def check(wf: Wfsched, *args: str) -> tuple[int, list[str]]:
    """``status --check``: (exit code, its output lines)."""
    result = wf.run("status", "--check", *args, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout.splitlines()


@pytest.fixture
def daemon(wf: Wfsched) -> Iterator[tuple[Popen[str], int]]:
    port = _free_port()
    process = wf.popen("scheduler", "--max-concurrent", "3", "--metrics-port", str(port))
    yield process, port
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _answering(port: int) -> bool:
    """/readyz says 200 once the scheduler registered and its loop ticks."""
    try:
        return http_get(port, "/readyz")[0] == 200
    except OSError:  # not listening yet
        return False


def test_a_live_scheduler_is_healthy_and_failures_make_it_unhealthy(
        wf: Wfsched, work_dir: Path, daemon) -> None:
    process, port = daemon
    wait_until(lambda: _answering(port), 60, "the metrics port to answer /readyz")
    code, lines = check(wf)
    assert code == 0, lines
    assert lines[0].startswith("healthy: 1 scheduler(s) live, 0 pending")
    status, body = http_get(port, "/healthz")
    assert status == 200 and body["healthy"] is True and body["problems"] == []
    (scheduler,) = body["schedulers"]
    assert scheduler["pid"] == process.pid and scheduler["state"] == "live"
    assert scheduler["max_concurrent"] == 3 and scheduler["version"]

    for execution_id in wf.trigger("crash", count=3, dir=work_dir):
        wf.wait_for_status(execution_id, "failed")
    code, lines = check(wf)
    assert code == 1
    assert lines == ["failure_rate: 100% of executions failed in the last 15m (3 of 3; "
                     "threshold 50%)"]
    # the same verdict over HTTP: unhealthy, but ready (the database answers)
    status, body = http_get(port, "/healthz")
    assert status == 503 and body["healthy"] is False
    assert [p["check"] for p in body["problems"]] == ["failure_rate"]
    assert body["failures"]["failed"] == 3 and body["failures"]["rate"] == 1.0
    assert http_get(port, "/readyz")[0] == 200
    as_json = json.loads(wf.run("status", "--check", "--json", check=False).stdout)
    assert as_json["problems"] == body["problems"]
    # a higher threshold, given as an option, makes it healthy again
    assert check(wf, "--max-failure-rate", "1")[0] == 0
    # and in the [health] table of the configuration
    wf.write_config("[health]\nmax_failure_rate = 1.0\n")
    assert check(wf)[0] == 0


def test_a_stopped_scheduler_goes_stale_then_none_is_live(wf: Wfsched) -> None:
    # stale after 2 s, given up after 30 s: a window no check can miss
    wf.write_config("heartbeat_timeout = 30\n[health]\nstale_heartbeat = 2\n")
    port = _free_port()
    process = wf.popen("scheduler", "--metrics-port", str(port))
    try:
        wait_until(lambda: _answering(port), 60, "the metrics port to answer /readyz")
        assert check(wf)[0] == 0
        os.killpg(process.pid, signal.SIGSTOP)  # its loop (and heartbeat) stops; row stays
        lines = wait_until(lambda: (lambda r: r[1] if r[0] == 1 else None)(check(wf)), 30,
                           "the heartbeat to go stale")
        assert len(lines) == 1 and lines[0].startswith("stale_heartbeat: scheduler ")
        assert f"(pid {process.pid}): heartbeat " in lines[0]
        assert lines[0].endswith("old (stale after 2.0s)")
        # a checker with a shorter heartbeat timeout gives it up: none is live
        wf.write_config("heartbeat_timeout = 5\n[health]\nstale_heartbeat = 2\n")

        def lost() -> list[str] | None:
            lines = check(wf)[1]
            return lines if lines[0].startswith("no_live_scheduler") else None

        lines = wait_until(lost, 30, "the scheduler to be given up")
        assert lines[0] == ("no_live_scheduler: no scheduler is live (none heartbeat in the "
                            "last 5.0s)")
        assert "lost, no heartbeat for" in lines[1] and "never signed off" in lines[1]
        os.killpg(process.pid, signal.SIGCONT)
        wait_until(lambda: check(wf)[0] == 0, 30, "the scheduler to be healthy again")
    finally:
        os.killpg(process.pid, signal.SIGCONT)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_the_oldest_pending_execution_is_judged_by_its_age(wf: Wfsched) -> None:
    (waiting,) = wf.trigger("noop")  # no scheduler: it waits
    wf.write_config("[health]\nmax_pending_age = 1\n")

    def too_old() -> list[str] | None:
        lines = check(wf)[1]
        return lines if any(line.startswith("pending_age") for line in lines) else None

    lines = wait_until(too_old, 30, "the pending execution to be older than 1 s")
    assert lines[0].startswith("no_live_scheduler: ")
    assert lines[1].startswith(f"pending_age: oldest pending execution #{waiting} (noop) "
                               "has waited ")
    assert lines[1].endswith("(threshold 1.0s)")
    verdict = json.loads(wf.run("status", "--check", "--json", check=False).stdout)
    assert verdict["pending"]["oldest_id"] == waiting and verdict["pending"]["count"] == 1
    assert verdict["pending"]["oldest_age_seconds"] > 1
    assert check(wf, "--max-pending-age", "3600")[1] == [lines[0]]


def test_an_unreadable_database_is_one_problem_line(wf: Wfsched, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "wfsched.db"
    result = wf.run("--database-url", f"sqlite:///{missing}", "status", "--check",
                    check=False)
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"database: no database at {missing}")
    assert "Traceback" not in result.stderr


def test_bad_health_settings_are_usage_errors(wf: Wfsched) -> None:
    wf.write_config("[health]\nmax_pending_age = -1\n")
    result = wf.run("status", "--check", check=False)
    assert result.returncode == 2
    assert "[health] max_pending_age must be a number of seconds from 1 to" in result.stderr
    wf.write_config("[health]\nmax_pending_ages = 10\n")
    result = wf.run("status", "--check", check=False)
    assert result.returncode == 2 and "unknown [health] key 'max_pending_ages'" in result.stderr
    wf.write_config("")
    result = wf.run("status", "--max-failure-rate", "0.2", check=False)
    assert result.returncode == 2
    assert "--max-failure-rate only applies with --check" in result.stderr
    result = wf.run("status", "--check", "--max-failure-rate", "2", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_the_verdict_and_its_queries_on_every_database(wf: Wfsched, db_kind: str) -> None:
    """The same rows give the same verdict on SQLite, PostgreSQL and MariaDB."""
    from datetime import timedelta

    from wfsched_core.base.config import load_settings
    from wfsched_core.base.records import SchedulerRow, utcnow
    from wfsched_core.ops.health import HealthThresholds, check_health
    from wfsched_core.store.db.schema import workflow_executions as executions

    store = wf.store
    now = utcnow()
    store.register_scheduler(SchedulerRow("sched-a", "host-a", 4242, now, now, "0.1.0",
                                          max_concurrent=4))

    def row(status: str, ago: float, **values: object) -> int:
        at = now - timedelta(seconds=ago)
        with store.engine.begin() as conn:
            return conn.execute(executions.insert().values(
                workflow=values.pop("workflow", "noop"), status=status, created_at=at,
                **values)).inserted_primary_key[0]

    oldest = row("pending", 1200)
    row("pending", 5, queue="reports")
    row("pending", 3600, not_before=now + timedelta(hours=1))  # a retry not due yet
    for _ in range(2):
        row("running", 60, workflow="hang", claimed_by="sched-a",
            started_at=now - timedelta(seconds=60))
    for status in ("failed", "failed", "failed", "completed", "cancelled"):
        row(status, 120, started_at=now - timedelta(seconds=120),
            finished_at=now - timedelta(seconds=60), claimed_by="sched-a")
    row("failed", 7200, started_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=2))  # outside the window

    assert store.pending_by_queue() == {None: 2, "reports": 1}
    assert store.running_by_workflow("sched-a") == {"hang": 2}
    settings = load_settings(database_url=wf.database_url, config_file=str(wf.config_path))
    health = check_health(store, settings, HealthThresholds.from_settings(settings))
    assert [(p.check, p.message) for p in health.problems] == [
        ("pending_age", f"oldest pending execution #{oldest} (noop) has waited 20m "
                        "(threshold 10m)"),
        ("failure_rate", "75% of executions failed in the last 15m (3 of 4; threshold 50%)"),
    ]
    (scheduler,) = health.schedulers
    assert (scheduler["id"], scheduler["state"], scheduler["running"]) == ("sched-a", "live", 2)
    assert health.pending["count"] == 3
    assert health.failures == {"window_seconds": 900.0, "failed": 3, "completed": 1,
                               "cancelled": 1, "rate": 0.75}
