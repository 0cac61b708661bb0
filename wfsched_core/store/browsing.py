"""Reads for people looking through the history: search with a total, steps of many runs.

The dashboard's triage views (issue 19) page through executions with filters and show a
runs × steps grid; both need queries the scheduler never makes, so they live here rather
than in :mod:`~wfsched_core.store.executions`, which holds the hot path. Searches are
ordered by id (the primary key) and filtered on indexed columns where one exists
(``status``, ``workflow``, ``created_at`` through the id order); the parameter text is a
``LIKE`` over the stored JSON, a scan bounded by the other filters.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, not_, select

from wfsched_core.base.records import Execution, StepRecord
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import workflow_execution_steps as steps_table
from wfsched_core.store.db.schema import workflow_executions as executions
from wfsched_core.store.rows import to_execution, to_step

LIKE_ESCAPE = "\\"


@dataclass(frozen=True)
class ExecutionSearch:
    """What to look for: every field is optional; all given ones must match."""

    status: str | None = None
    workflow: str | None = None
    #: a piece of the parameters' text (case-insensitive), e.g. ``day": "2026`` or ``2026``
    text: str | None = None
    #: workflows whose parameters the text must not look into (they declare secrets:
    #: a search would tell whether a hidden value contains the text)
    text_skips: Collection[str] = field(default_factory=frozenset)
    created_from: datetime | None = None
    created_to: datetime | None = None
    limit: int = 50
    offset: int = 0


@dataclass
class ExecutionPage:
    """One page of a search, newest first, and how many executions match in all."""

    executions: list[Execution]
    total: int
    offset: int
    limit: int


def _like_pattern(text: str) -> str:
    escaped = (text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%")
               .replace("_", LIKE_ESCAPE + "_"))
    return f"%{escaped}%"


def _conditions(search: ExecutionSearch) -> list[ColumnElement[bool]]:
    c = executions.c
    where = []
    if search.status:
        where.append(c.status == search.status)
    if search.workflow:
        where.append(c.workflow == search.workflow)
    if search.text:
        matches: ColumnElement[bool] = c.params.ilike(_like_pattern(search.text),
                                                      escape=LIKE_ESCAPE)
        if search.text_skips:
            matches = and_(matches, not_(c.workflow.in_(sorted(search.text_skips))))
        where.append(matches)
    if search.created_from is not None:
        where.append(c.created_at >= search.created_from)
    if search.created_to is not None:
        where.append(c.created_at < search.created_to)
    return where


class ExecutionBrowsingMixin(StoreBase):
    """Searching the history page by page, and the steps of a workflow's recent runs."""

    def search_executions(self, search: ExecutionSearch) -> ExecutionPage:
        """The executions matching ``search``, newest first, one page, with the total."""
        where = _conditions(search)
        page = (select(executions).where(*where).order_by(executions.c.id.desc())
                .limit(search.limit).offset(search.offset))
        count = select(func.count()).select_from(executions).where(*where)
        with self._read() as conn:
            rows = [to_execution(r) for r in conn.execute(page)]
            total = int(conn.execute(count).scalar() or 0)
        return ExecutionPage(rows, total, search.offset, search.limit)

    def steps_of(self, execution_ids: Sequence[int]) -> dict[int, list[StepRecord]]:
        """The recorded steps of each of ``execution_ids`` (ids without steps map to [])."""
        found: dict[int, list[StepRecord]] = {int(i): [] for i in execution_ids}
        if not found:
            return found
        query = (select(steps_table).where(steps_table.c.execution_id.in_(list(found)))
                 .order_by(steps_table.c.execution_id, steps_table.c.position))
        with self._read() as conn:
            for r in conn.execute(query):
                found[int(r.execution_id)].append(to_step(r))
        return found
