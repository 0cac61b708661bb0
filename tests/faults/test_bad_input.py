"""The bad-input cases of the crash-safety issue not covered by tests/test_cli_errors.py,
tests/test_plugins_cli.py (a workflow that raises on import) and tests/test_policies.py
(an invalid cron expression): one clear line, the right exit code, and no hang."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from helpers import Wfsched


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that completes the TCP handshake (the kernel's backlog) and never says a
    word: a hung database server, or a firewall that swallows the connection."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    yield listener.getsockname()[1]
    listener.close()


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_a_database_server_that_never_answers_fails_within_seconds(
        wf: Wfsched, silent_server: int, scheme: str) -> None:
    url = f"{scheme}://bob:hunter2@127.0.0.1:{silent_server}/db"
    started = time.monotonic()
    result = wf.run("--database-url", url, "executions", "list", check=False, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert elapsed < 25, f"took {elapsed:.1f}s"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot use the database" in lines[0], result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def test_the_scheduler_refuses_to_start_on_an_unreachable_database(wf: Wfsched) -> None:
    result = wf.run("--database-url", "postgresql://bob:hunter2@127.0.0.1:1/db",
                    "scheduler", check=False, timeout=60)
    assert result.returncode == 1
    assert "cannot use the database" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grace-period", "-1"], "Invalid value for '--grace-period'"),
        (["--grace-period", "soon"], "'soon' is not a valid float"),
        (["--poll-interval", "0"], "Invalid value for '--poll-interval'"),
    ],
)
def test_bad_scheduler_options_are_usage_errors(wf: Wfsched, args: list[str],
                                                message: str) -> None:
    result = wf.run("scheduler", *args, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_execute_refuses_an_execution_that_another_worker_runs(wf: Wfsched) -> None:
    from sqlalchemy import update

    from wfsched_core.store.db.schema import workflow_executions as executions

    (execution_id,) = wf.trigger("noop")
    with wf.store.engine.begin() as conn:
        conn.execute(update(executions).where(executions.c.id == execution_id)
                     .values(claimed_by="some-scheduler"))
    claimed = wf.run("execute", str(execution_id), check=False)
    assert claimed.returncode == 1
    assert f"execution {execution_id} is claimed by scheduler some-scheduler" in claimed.stderr
    with wf.store.engine.begin() as conn:
        conn.execute(update(executions).where(executions.c.id == execution_id)
                     .values(status="running"))
    running = wf.run("execute", str(execution_id), check=False)
    assert running.returncode == 1
    assert "is running, not pending; refusing to run it again" in running.stderr
    assert "Traceback" not in claimed.stderr + running.stderr
    assert wf.execution(execution_id).status.value == "running"  # untouched
    with wf.store.engine.begin() as conn:  # leave nothing running for the tally
        conn.execute(update(executions).where(executions.c.id == execution_id)
                     .values(status="cancelled"))
