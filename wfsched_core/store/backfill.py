"""Backfill's reads and writes: which ticks of a window have a row, and queueing the rest.

Each tick is inserted in a savepoint of one transaction: the unique (workflow, scheduled
time) turns a tick another process queued meanwhile (a scheduler, a second backfill) into
a skipped insert, so no tick is ever queued twice and the others still go in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from wfsched_core.base.records import Execution
from wfsched_core.base.status import Trigger
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import workflow_executions as executions
from wfsched_core.store.rows import from_values, new_execution_values


class BackfillMixin(StoreBase):
    """The store's part of ``wfsched backfill``."""

    def scheduled_rows(self, workflow: str, start: datetime,
                       end: datetime) -> dict[datetime, tuple[int, str]]:
        """The executions of ``workflow`` scheduled for ``start <= t < end``, by tick:
        ``(id, status)`` each (a run, a queued one, or a skipped tick)."""
        query = select(executions.c.scheduled_for, executions.c.id, executions.c.status).where(
            executions.c.workflow == workflow, executions.c.scheduled_for >= start,
            executions.c.scheduled_for < end)
        with self._read() as conn:
            return {r.scheduled_for: (r.id, r.status) for r in conn.execute(query)}

    def enqueue_ticks(self, workflow: str, ticks: Sequence[datetime], *, priority: int,
                      queue: str | None, trigger: Trigger = Trigger.BACKFILL,
                      ) -> list[Execution]:
        """Queue one pending execution per tick that has no row yet; the ones queued."""
        created: list[Execution] = []
        with self._write() as conn:
            for tick in ticks:
                values = new_execution_values(workflow, priority=priority, queue=queue,
                                              trigger=trigger.value, scheduled_for=tick)
                try:
                    with conn.begin_nested():
                        result = conn.execute(executions.insert().values(**values))
                except IntegrityError:
                    continue  # queued by someone else since it was read: theirs stands
                created.append(from_values(result.inserted_primary_key[0], values))
            if created:
                self._notify(conn)
        return created
