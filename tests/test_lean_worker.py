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

from wfsched_core.cli.app import App
from wfsched_core.records import utcnow
from wfsched_core.status import ExecutionStatus, StepStatus
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
