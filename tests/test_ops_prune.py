"""Retention: ``wfsched prune`` and the scheduler's daily prune (``[scheduler] retention``)."""

from __future__ import annotations

import json
import os
import signal
from datetime import timedelta

from helpers import TEST_CONFIG, Wfsched, wait_until
from sqlalchemy import func, select, update

from wfsched_core.base.execution_log import log_path
from wfsched_core.base.records import utcnow
from wfsched_core.ops.retention import prune_finished
from wfsched_core.store.db.schema import workflow_execution_steps as steps_table
from wfsched_core.store.db.schema import workflow_executions as executions

OLD = timedelta(days=40)


def _backdate(wf: Wfsched, ids: list[int], **values: object) -> None:
    with wf.store.engine.begin() as conn:
        conn.execute(update(executions).where(executions.c.id.in_(ids))
                     .values(finished_at=utcnow() - OLD, **values))


def _ids(wf: Wfsched) -> set[int]:
    with wf.store.engine.connect() as conn:
        return {row[0] for row in conn.execute(select(executions.c.id))}


def _step_count(wf: Wfsched, ids: list[int]) -> int:
    with wf.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(steps_table)
                            .where(steps_table.c.execution_id.in_(ids))).scalar()


def _finished_history(wf: Wfsched) -> tuple[list[int], list[int]]:
    """Run some executions; return (ids made old, one of each final status; ids left recent)."""
    ids = wf.trigger("chatty", count=5)
    wf.run("scheduler", "--once")
    old, recent = ids[:3], ids[3:]
    for execution_id, status in zip(old, ("completed", "failed", "cancelled"), strict=True):
        _backdate(wf, [execution_id], status=status)
    return old, recent


def test_prune_removes_exactly_what_it_says(wf: Wfsched, db_kind: str) -> None:
    old, recent = _finished_history(wf)
    pending, running = wf.trigger("noop", count=2)
    # old timestamps on active executions must not matter: only the status does
    _backdate(wf, [pending])
    _backdate(wf, [running], status="running", started_at=utcnow() - OLD)
    logs = wf.home / "logs"
    assert all(log_path(logs, i).exists() for i in old + recent)
    old_steps = _step_count(wf, old)
    assert old_steps == 3

    dry = json.loads(wf.run("prune", "--older-than", "30d", "--dry-run", "--json").stdout)
    assert dry["dry_run"] is True
    assert dry["execution_ids"] == old and dry["steps"] == old_steps
    assert dry["log_files"] == len(old)
    assert _ids(wf) >= set(old + recent + [pending, running])  # nothing removed
    assert all(log_path(logs, i).exists() for i in old)

    result = wf.run("prune", "--older-than", "30d")
    assert result.stdout.startswith(f"removed {len(old)} execution(s) finished before ")
    assert f"{old_steps} step(s), {len(old)} log file(s)" in result.stdout
    assert f"ids: {', '.join(str(i) for i in old)}" in result.stdout
    remaining = _ids(wf)
    assert remaining.isdisjoint(old)
    assert remaining >= set(recent + [pending, running])
    assert _step_count(wf, old) == 0
    assert not any(log_path(logs, i).exists() for i in old)
    assert all(log_path(logs, i).exists() for i in recent)
    # the same again finds nothing (in-process: the CLI path is covered above)
    assert prune_finished(wf.store, logs, timedelta(days=30)).executions == 0


def test_prune_works_in_batches(wf: Wfsched) -> None:
    ids = wf.trigger("noop", count=7)
    wf.run("scheduler", "--once")
    _backdate(wf, ids)
    result = prune_finished(wf.store, wf.home / "logs", timedelta(days=30), batch_size=2)
    assert result.execution_ids == ids
    assert _ids(wf).isdisjoint(ids)


def test_prune_rejects_a_bad_age(wf: Wfsched) -> None:
    result = wf.run("prune", "--older-than", "30 days", check=False)
    assert result.returncode == 2
    assert "not an age like 30d" in result.stderr and "Traceback" not in result.stderr


def test_scheduler_prunes_daily_with_retention_setting(wf: Wfsched) -> None:
    old, recent = _finished_history(wf)
    wf.config_path.write_text(TEST_CONFIG + 'retention = "30d"\n')
    daemon = wf.popen("scheduler")
    logs = wf.home / "logs"
    try:
        wait_until(lambda: _ids(wf).isdisjoint(old)
                   and not any(log_path(logs, i).exists() for i in old),
                   30, "the scheduler's retention prune")
        assert _ids(wf) >= set(recent)
        assert all(log_path(logs, i).exists() for i in recent)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(30)


def test_bad_retention_setting_is_a_config_error(wf: Wfsched) -> None:
    wf.config_path.write_text(TEST_CONFIG + 'retention = "forever"\n')
    result = wf.run("status", check=False)
    assert result.returncode == 2
    assert "[scheduler] retention" in result.stderr and "Traceback" not in result.stderr
