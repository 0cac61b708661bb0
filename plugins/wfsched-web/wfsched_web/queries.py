"""Read queries the dashboard needs and the store does not offer (kept in the plugin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from wfsched_core.store.db.schema import workflow_executions as executions

if TYPE_CHECKING:
    from wfsched_core.store import SqlStore


def recent_started(store: SqlStore, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` most recently started executions, oldest first, for the timeline."""
    query = (
        select(executions.c.id, executions.c.workflow, executions.c.status,
               executions.c.claimed_by, executions.c.started_at, executions.c.finished_at)
        .where(executions.c.started_at.is_not(None))
        .order_by(executions.c.started_at.desc(), executions.c.id.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [dict(row._mapping) for row in reversed(rows)]
