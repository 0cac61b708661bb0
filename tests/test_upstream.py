"""A run queued by a dependency sees its upstream runs (``ctx.upstream``) and names the one
that queued it (``triggered_by``): through the scheduler's lean worker in both start modes,
through ``wfsched execute``, and on a database migrated from the previous revision."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import Wfsched, database_at_revision

PRODUCED = {"count": 3, "label": {"name": "report", "count": 3}}


def _only(wf: Wfsched, workflow: str) -> dict:
    (row,) = wf.json("executions", "list", "--workflow", workflow)
    return wf.json("executions", "show", str(row["id"]))


@pytest.mark.parametrize("start_mode", ["fork", "exec"])
def test_a_dependent_reads_its_upstreams_results(wf: Wfsched, work_dir: Path,
                                                 start_mode: str) -> None:
    wf.write_config(f'start_mode = "{start_mode}"\n'
                    '[workflows.read_upstream]\ndepends_on = ["produce", "noop"]\n')
    (noop_id,) = wf.trigger("noop")
    assert wf.run("scheduler", "--once").returncode == 0  # noop's completion queues one
    (produce_id,) = wf.trigger("produce", dir=work_dir)
    assert wf.run("scheduler", "--once").returncode == 0
    readers = [r for r in wf.json("executions", "list", "--workflow", "read_upstream")]
    shown = {r["id"]: wf.json("executions", "show", str(r["id"])) for r in readers}
    by_trigger = {s["triggered_by"]: s for s in shown.values()}
    assert set(by_trigger) == {noop_id, produce_id}
    assert all(s["status"] == "completed" and s["trigger"] == "dependency"
               for s in shown.values())
    (record,) = wf.records(work_dir, "upstream")  # only produce's run passed ``dir`` on
    assert record["execution_id"] == by_trigger[produce_id]["id"]
    assert record["read_only"] is True
    assert record["upstream"]["produce"] == {
        "execution_id": produce_id, "workflow": "produce", "status": "completed",
        "results": PRODUCED}
    # the other depends_on workflow: its latest completed run
    assert record["upstream"]["noop"]["execution_id"] == noop_id
    assert record["upstream"]["noop"]["status"] == "completed"
    text = wf.run("executions", "show", str(record["execution_id"])).stdout
    assert f"triggered_by: {produce_id}" in text


def test_wfsched_execute_runs_a_triggered_execution_with_its_upstream(
        wf: Wfsched, work_dir: Path) -> None:
    wf.write_config('[workflows.read_upstream]\ndepends_on = ["produce"]\n')
    wf.run("scheduler", "--once")  # records the dependency (the catalog) in the database
    (produce_id,) = wf.trigger("produce", dir=work_dir, n=5)
    wf.run("execute", str(produce_id))
    (pending,) = wf.json("executions", "list", "--workflow", "read_upstream")
    assert pending["status"] == "pending"
    wf.run("execute", str(pending["id"]))
    shown = wf.json("executions", "show", str(pending["id"]))
    assert shown["status"] == "completed" and shown["triggered_by"] == produce_id
    (record,) = wf.records(work_dir, "upstream")
    assert record["upstream"] == {"produce": {
        "execution_id": produce_id, "workflow": "produce", "status": "completed",
        "results": {"count": 5, "label": {"name": "report", "count": 5}}}}


def test_a_manual_run_has_an_empty_upstream(wf: Wfsched, work_dir: Path) -> None:
    (execution_id,) = wf.trigger("read_upstream", dir=work_dir)
    wf.run("execute", str(execution_id))
    (record,) = wf.records(work_dir, "upstream")
    assert record["upstream"] == {} and record["read_only"] is True
    assert wf.json("executions", "show", str(execution_id))["triggered_by"] is None


def test_db_upgrade_keeps_executions_of_the_previous_revision(
        home: Path, testworkflows_path: Path) -> None:
    url = f"sqlite:///{home}/old.db"
    database_at_revision(
        url, "0002",
        "INSERT INTO workflow_executions (workflow, status, priority, attempt, params, "
        "trigger, created_at, cancel_requested) VALUES ('noop', 'completed', 0, 1, "
        "'{\"a\": 1}', 'manual', '2026-01-01 00:00:00', 0)")
    wf = Wfsched(home, url, [testworkflows_path])
    try:
        wf.run("db", "upgrade")
        (row,) = wf.json("executions", "list")
        shown = wf.json("executions", "show", str(row["id"]))
        assert shown["workflow"] == "noop" and shown["params"] == {"a": 1}
        assert shown["triggered_by"] is None
        (produce_id,) = wf.trigger("produce")
        assert wf.json("executions", "show", str(produce_id))["triggered_by"] is None
    finally:
        wf.close()


def test_a_retry_of_a_dependent_sees_the_same_upstream(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config('[workflows.read_upstream]\ndepends_on = ["produce"]\n'
                    'retries = 1\nretry_delay = 0\n')
    (produce_id,) = wf.trigger("produce", dir=work_dir, fail_first="1")
    wf.run("scheduler", "--once")
    attempts = sorted(wf.json("executions", "list", "--workflow", "read_upstream"),
                      key=lambda r: r["id"])
    shown = [wf.json("executions", "show", str(r["id"])) for r in attempts]
    assert [(s["attempt"], s["status"], s["triggered_by"]) for s in shown] == [
        (1, "failed", produce_id), (2, "completed", produce_id)]
    records = wf.records(work_dir, "upstream")
    assert len(records) == 2
    assert all(r["upstream"]["produce"]["execution_id"] == produce_id for r in records)
