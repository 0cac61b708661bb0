"""Guarantee 6: one scheduler per SQLite database; a second refuses, naming the first."""

from __future__ import annotations

import os
import signal

from helpers import Wfsched, wait_until

from faults.conftest import Schedulers


def test_a_second_scheduler_on_the_same_sqlite_database_refuses_naming_the_first(
        wf: Wfsched, schedulers: Schedulers) -> None:
    first = schedulers.start(name="first")
    (row,) = wait_until(lambda: wf.store.list_schedulers(active_only=True), 20,
                        "the first scheduler to register")
    for args in (["scheduler"], ["scheduler", "--once"]):
        second = wf.run(*args, check=False, timeout=60)
        assert second.returncode == 1, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert "another scheduler already runs on this SQLite database" in lines[0]
        assert f"scheduler {row.id}, pid {first.pid} on {row.host}" in lines[0]
        assert "Traceback" not in second.stderr
    assert first.poll() is None  # the refusal did not disturb the one that runs
    os.kill(first.pid, signal.SIGTERM)
    assert first.wait(30) == 0
    # stopped: the lock is free again
    assert wf.run("scheduler", "--once", timeout=60).returncode == 0
