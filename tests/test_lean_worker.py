"""The lean worker (issue 13): what a locally started worker loads, and how it reports.

A worker the ``local`` spawner starts, forked or as a fresh interpreter, imports the
authoring API and its own workflow module only — no SQLAlchemy, no click, no plugin scan —
and reports its transitions to its scheduler, which writes them. When the scheduler has
already committed a final status it could not answer, the worker that takes over finds
it recorded and neither records nor announces it again.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Wfsched

from wfsched_core.app import App
from wfsched_core.base.records import utcnow
from wfsched_core.base.status import ExecutionStatus, StepStatus
from wfsched_core.store.reports import FinishReport, StartReport
from wfsched_core.worker.direct import DirectReporter
from wfsched_core.worker.runner import Outcome


@pytest.mark.parametrize("start_mode", ["fork", "exec"])
def test_a_local_worker_loads_only_the_authoring_api_and_its_workflow(
        wf: Wfsched, work_dir: Path, start_mode: str) -> None:
    wf.write_config(f'start_mode = "{start_mode}"\n')
    ids = wf.trigger("modules", count=2, dir=work_dir)
    wf.run("scheduler", "--once")
    records = wf.records(work_dir, "modules")
    assert sorted(r["execution_id"] for r in records) == sorted(ids)
    for record in records:
        assert record["loaded"] == [], record
    for execution_id in ids:  # and yet every transition was recorded
        execution = wf.execution(execution_id)
        assert execution.status is ExecutionStatus.COMPLETED
        assert execution.started_at and execution.finished_at and execution.exit_code == 0
        assert [s.status for s in wf.store.steps(execution_id)] == [StepStatus.COMPLETED]


def test_the_lean_worker_is_not_for_people(wf: Wfsched) -> None:
    result = subprocess.run([sys.executable, "-m", "wfsched_core.worker", "1"], env=wf.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "wfsched execute ID" in result.stderr and "Traceback" not in result.stderr


def test_a_worker_taking_over_finds_its_final_status_already_committed(
        wf: Wfsched, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler committed the final status and vanished before answering: the
    worker's own compare-and-set then loses, and that is its own outcome, not a conflict."""
    for key, value in wf.env.items():
        if key.startswith("WFSCHED_") or key == "PYTHONPATH":
            monkeypatch.setenv(key, value)
    app = App()
    store = app.store
    (execution,) = store.enqueue("noop")
    store.claim_pending("gone", 1)
    [(running, _step)] = store.apply_worker_reports("gone", "h", [StartReport(execution.id, 7,
                                                                             "nothing")])
    [finished] = store.apply_worker_reports("gone", "h", [FinishReport(
        execution.id, ExecutionStatus.COMPLETED, 0, None, None, None)])
    assert finished is not None
    fired: list[str] = []
    monkeypatch.setattr(app.hooks, "execution_completed", lambda e: fired.append("completed"))
    reporter = DirectReporter(execution.id, store, app.hooks, resuming=True)
    reporter.execution = running
    assert reporter.finish(running, Outcome(ExecutionStatus.COMPLETED), None) == 0
    assert fired == []  # announced once, by whoever committed it
    assert store.get_execution(execution.id).finished_at <= utcnow()
    assert len(store.list_executions()) == 1


def _report_socket(pid: int) -> str:
    import psutil

    for connection in psutil.Process(pid).net_connections(kind="unix"):
        if connection.laddr and "wfsched-reports-" in connection.laddr:
            return connection.laddr
    return ""


def test_the_report_channel_takes_reports_only_from_the_workers_it_started(
        wf: Wfsched, work_dir: Path) -> None:
    """A process that is not the worker started for an execution (no token, a wrong
    one, or garbage) is refused and changes nothing; the channel serves on."""
    import json
    import os
    import signal
    import socket

    from helpers import wait_until

    daemon = wf.popen("scheduler", "--max-concurrent", "2")
    try:
        path = wait_until(lambda: _report_socket(daemon.pid), 60, "the report socket")
        assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == "0o700"
        (running,) = wf.trigger("hang", dir=work_dir)
        wait_until(lambda: wf.records(work_dir, "started"), 60, "the real worker's step")
        answers = []
        for line in (json.dumps({"op": "start", "id": running, "token": "guess",
                                 "pid": os.getpid(), "first_step": "hang"}),
                     json.dumps({"op": "start", "id": running}),
                     json.dumps({"op": "finish", "status": "completed"}), "not json"):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(path)
                sock.sendall(line.encode() + b"\n")
                answers.append(sock.makefile("rb").readline())
        refused = [json.loads(a) for a in answers[:3]]
        assert all(not a["ok"] for a in refused), refused
        assert answers[3] == b""  # garbage: the connection is closed
        assert wf.execution(running).status is ExecutionStatus.RUNNING  # untouched
        (later,) = wf.trigger("mark", dir=work_dir)
        assert wf.wait_for_status(later, "completed", timeout=60).exit_code == 0
        wf.run("cancel", str(running))
        assert wf.wait_for_status(running, "cancelled", timeout=60).error \
            == "cancelled while running"
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
