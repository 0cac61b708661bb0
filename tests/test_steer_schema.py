"""Migration 0006 (issue 20) on a database that holds executions of revision 0003: they
read as before, and an old failed run can be re-run from its failed step."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from helpers import Wfsched
from sqlalchemy import column, create_engine, func, select, table

from wfsched_core.store.db.migrate import upgrade_schema


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql", "mariadb"])
def test_upgrade_keeps_executions_of_0003(db_kind: str, database_url: str, home: Path,
                                          testworkflows_path: Path, work_dir: Path) -> None:
    side_effects = work_dir / "extract.txt"
    engine = create_engine(database_url)
    upgrade_schema(engine, "0003")
    old_executions = table(
        "workflow_executions", column("id"), column("workflow"), column("status"),
        column("priority"), column("attempt"), column("params"), column("trigger"),
        column("created_at"), column("finished_at"), column("cancel_requested"),
        column("error"))
    old_steps = table("workflow_execution_steps", column("execution_id"), column("position"),
                      column("name"), column("status"), column("started_at"),
                      column("finished_at"), column("result"))
    with engine.begin() as conn:
        conn.execute(old_executions.insert().values(
            workflow="three_steps", status="failed", priority=0, attempt=1,
            params=json.dumps({"file": str(side_effects), "dir": str(work_dir)}),
            trigger="manual", created_at=datetime(2026, 1, 1),
            finished_at=datetime(2026, 1, 1, 0, 0, 5), cancel_requested=False,
            error="RuntimeError: transform is not ready"))
        old_id = conn.execute(select(func.max(old_executions.c.id))).scalar()
        for position, name, status, result in ((1, "extract", "completed", '{"rows": 41}'),
                                               (2, "transform", "failed", None)):
            conn.execute(old_steps.insert().values(
                execution_id=old_id, position=position, name=name, status=status,
                started_at=datetime(2026, 1, 1, 0, 0, 1),
                finished_at=datetime(2026, 1, 1, 0, 0, 2), result=result))
    engine.dispose()
    wf = Wfsched(home, database_url, [testworkflows_path])
    try:
        wf.run("db", "upgrade")
        shown = wf.json("executions", "show", str(old_id))
        assert (shown["status"], shown["error"]) == ("failed",
                                                     "RuntimeError: transform is not ready")
        assert shown["rerun_of"] is None and shown["approval"] is None
        assert shown["overdue_at"] is None and shown["resume_from"] is None
        assert [(s["name"], s["result"], s["result_json"]) for s in shown["steps"]] == [
            ("extract", {"rows": 41}, None), ("transform", None, None)]
        assert wf.json("executions", "list", "--overdue") == []
        new_id = int(wf.run("rerun", str(old_id)).stdout)
        wf.run("scheduler", "--once")
        new = wf.json("executions", "show", str(new_id))
        assert new["status"] == "completed" and new["rerun_of"] == old_id
        assert not side_effects.exists()  # extract's recorded result was reused
        (transform,) = wf.records(work_dir, "transform")
        assert transform["results"] == {"extract": {"rows": 41}}
    finally:
        wf.close()
