"""Fixtures of the fault-injection suite, and its end-of-session tally.

Every test here drives real ``wfsched`` processes and hurts them with real signals. After
each test the tally reads that test's database and record files: how many executions
started, completed, failed, were retried, ran in more than one process (a double run),
and were left ``running``. The counts travel to the controlling pytest process in the
test report (``user_properties``, which pytest-xdist forwards), and
``pytest_terminal_summary`` prints the totals. Each test also fails (in teardown) if an
execution ran twice or was left ``running``.

The summary is printed by the process that loaded this file at start-up: run the suite
as its own session (``pytest -n 2 tests/faults``). In a whole-suite run under xdist the
controller never imports this conftest (pytest loads only ``tests/test*/`` conftests up
front), so only the per-test assertions speak there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import installed_package
from helpers import Wfsched

TALLY_PROPERTY = "wfsched_fault_tally"
TALLY_KEYS = ("started", "completed", "failed", "cancelled", "retried",
              "ran more than once", "left running")


@pytest.fixture(scope="session")
def faultworkflows_path() -> Path:
    return installed_package("wfsched-faultworkflows")


@pytest.fixture
def wf(wf: Wfsched, faultworkflows_path: Path) -> Wfsched:
    """The suite's runner: the test workflows plus the fault workflows."""
    wf.python_paths.append(faultworkflows_path)
    return wf


class Schedulers:
    """Starts ``wfsched scheduler`` daemons for one test and cleans up after them."""

    def __init__(self, wf: Wfsched) -> None:
        self.wf = wf
        self.started: list[subprocess.Popen[str]] = []

    def start(self, *args: str, name: str = "scheduler") -> subprocess.Popen[str]:
        process = self.wf.popen("scheduler", *args, name=name)
        self.started.append(process)
        return process

    def cleanup(self) -> None:
        """Kill what the test left: its schedulers' process groups, then its workers."""
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        home = str(self.wf.home)
        for proc in psutil.process_iter():
            try:
                if proc.pid != os.getpid() and proc.environ().get("WFSCHED_HOME") == home:
                    proc.kill()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                pass


@pytest.fixture
def schedulers(wf: Wfsched) -> Iterator[Schedulers]:
    """``schedulers.start(...)`` runs a daemon; all are killed at the end of the test."""
    runner = Schedulers(wf)
    yield runner
    runner.cleanup()


def records(work_dir: Path, kind: str) -> list[dict[str, Any]]:
    """The records of ``kind`` the workflows wrote so far; one being written is skipped
    (the test workflows write in place, so a reader can catch a file half-written)."""
    found = []
    for path in sorted(work_dir.glob(f"{kind}-*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return found


def double_runs(work_dir: Path) -> int:
    """Execution ids whose record files come from more than one process."""
    pids: dict[int, set[int]] = defaultdict(set)
    for path in work_dir.glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if "execution_id" in record and "pid" in record:
            pids[int(record["execution_id"])].add(int(record["pid"]))
    return sum(1 for processes in pids.values() if len(processes) > 1)


def tally(wf: Wfsched, work_dir: Path | None) -> dict[str, int]:
    """What happened in one test's database (and record files)."""
    executions = wf.store.list_executions(limit=100_000)
    statuses = Counter(e.status.value for e in executions)
    return {
        "started": sum(1 for e in executions if e.started_at is not None),
        "completed": statuses["completed"],
        "failed": statuses["failed"],
        "cancelled": statuses["cancelled"],
        "retried": sum(1 for e in executions if e.retry_of is not None),
        "ran more than once": double_runs(work_dir) if work_dir is not None else 0,
        "left running": statuses["running"],
    }


@pytest.fixture(autouse=True)
def fault_tally(request: pytest.FixtureRequest) -> Iterator[None]:
    """Count each test's executions before its daemons are killed (LIFO teardown)."""
    if "wf" not in request.fixturenames:
        yield
        return
    wf = request.getfixturevalue("wf")
    request.getfixturevalue("schedulers")  # set up first: torn down after the count
    work_dir = request.getfixturevalue("work_dir") if "work_dir" in request.fixturenames \
        else None
    yield
    try:
        counts = tally(wf, work_dir)
    except Exception as exc:  # noqa: BLE001 - a broken test database must not hide the test
        counts = {"unreadable": 1}
        request.node.user_properties.append((TALLY_PROPERTY + "_error", str(exc)))
    request.node.user_properties.append((TALLY_PROPERTY, json.dumps(counts)))
    # the two invariants hold after every fault test, whatever it was about
    assert counts.get("ran more than once", 0) == 0, f"an execution ran twice: {counts}"
    assert counts.get("left running", 0) == 0, f"executions left running: {counts}"


class FaultTally:
    """Adds up the tallies of the fault tests in the process that prints the summary."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == TALLY_PROPERTY:
                self.totals.update(json.loads(value))
                self.totals["tests"] += 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        totals = self.totals
        if not totals["tests"]:
            return
        terminalreporter.section("wfsched fault-injection tally")
        terminalreporter.write_line(
            f"over {totals['tests']} fault tests: "
            + ", ".join(f"{key} {totals[key]}" for key in TALLY_KEYS))
        if totals["ran more than once"] or totals["left running"]:
            terminalreporter.write_line("INVARIANT BROKEN: executions ran twice or were "
                                        "left running", red=True, bold=True)


def pytest_configure(config: pytest.Config) -> None:
    # also called for this conftest when it is loaded late (pytest replays the hook)
    if not config.pluginmanager.has_plugin("wfsched-fault-tally"):
        config.pluginmanager.register(FaultTally(), "wfsched-fault-tally")
