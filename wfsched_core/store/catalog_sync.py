"""Workflows as the database knows them, scheduled ticks, and dependencies."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from wfsched_core.base.records import WorkflowRow, utcnow
from wfsched_core.base.status import ExecutionStatus, Trigger
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import workflow_dependencies, workflows
from wfsched_core.store.db.schema import workflow_executions as executions


class CatalogSyncMixin(StoreBase):
    """What the scheduler writes about workflows, and the schedule's bookkeeping."""

    def sync_workflows(self, rows: Sequence[WorkflowRow],
                       dependencies: Iterable[tuple[str, str]] | None = None) -> None:
        """Insert or refresh each workflow; with ``dependencies``, replace the edge list."""
        # Schedulers that start together insert the same names (or deadlock on them on
        # MySQL/MariaDB): the loser of that race tries again, and then sees the rows.
        dependencies = None if dependencies is None else list(dependencies)
        for attempt in range(3):
            try:
                return self._sync_workflows_once(rows, dependencies)
            except (IntegrityError, OperationalError) as exc:
                if attempt == 2 or (isinstance(exc, OperationalError)
                                    and "deadlock" not in str(exc).lower()):
                    raise

    def _sync_workflows_once(self, rows: Sequence[WorkflowRow],
                             dependencies: Iterable[tuple[str, str]] | None) -> None:
        now = utcnow()
        with self._write() as conn:
            existing = dict(conn.execute(select(workflows.c.name, workflows.c.schedule)).all())
            for row in rows:
                values: dict[str, object] = {"description": row.description,
                                             "schedule": row.schedule, "updated_at": now}
                if row.name in existing and existing[row.name] != row.schedule:
                    # a new schedule counts its ticks from the first scheduler that sees it
                    values["next_run_at"] = None
                if row.name in existing:
                    conn.execute(update(workflows).where(workflows.c.name == row.name)
                                 .values(**values))
                else:
                    conn.execute(workflows.insert().values(name=row.name, **values))
            if dependencies is not None:
                wanted = set(dependencies)
                have = {(r.upstream, r.downstream)
                        for r in conn.execute(select(workflow_dependencies))}
                for upstream, downstream in have - wanted:
                    conn.execute(delete(workflow_dependencies).where(
                        workflow_dependencies.c.upstream == upstream,
                        workflow_dependencies.c.downstream == downstream))
                for upstream, downstream in sorted(wanted - have):
                    conn.execute(workflow_dependencies.insert().values(
                        upstream=upstream, downstream=downstream))

    def workflow_rows(self) -> dict[str, WorkflowRow]:
        with self._read() as conn:
            rows = conn.execute(select(workflows)).all()
        return {r.name: WorkflowRow(r.name, r.description, r.schedule, r.last_executed,
                                    r.last_status) for r in rows}

    def last_scheduled_for(self, workflow: str) -> datetime | None:
        """The latest tick of ``workflow`` that has a row (run, queued or skipped)."""
        query = select(func.max(executions.c.scheduled_for)).where(
            executions.c.workflow == workflow)
        with self._read() as conn:
            return conn.execute(query).scalar()

    def record_skipped_tick(self, workflow: str, scheduled_for: datetime, reason: str,
                            *, priority: int = 0, queue: str | None = None) -> bool:
        """Record a tick that will not run, as a ``cancelled`` execution saying why.

        Unique on (workflow, scheduled_for) like a run, so that it is recorded once and
        the tick is never considered missed again. False when the tick already has a row.
        """
        now = utcnow()
        try:
            with self._write() as conn:
                conn.execute(executions.insert().values(
                    workflow=workflow, status=ExecutionStatus.CANCELLED.value,
                    priority=priority, attempt=1, params=json.dumps({}),
                    trigger=Trigger.SCHEDULE.value, scheduled_for=scheduled_for, queue=queue,
                    created_at=now, finished_at=now, cancel_requested=False,
                    error=f"skipped: {reason}"))
        except IntegrityError:
            return False
        return True

    def schedule_position(self, workflow: str, first_tick: datetime) -> datetime | None:
        """Where ``workflow``'s schedule stands: the next tick recorded for it (a tick
        that is due when it is in the past). On first sight, when none is recorded,
        ``first_tick`` is recorded and returned; with several schedulers, the first
        record stays and all of them return it."""
        with self._write() as conn:
            conn.execute(update(workflows).where(workflows.c.name == workflow,
                                                 workflows.c.next_run_at.is_(None))
                         .values(next_run_at=first_tick))
            return conn.execute(select(workflows.c.next_run_at)
                                .where(workflows.c.name == workflow)).scalar()

    def set_next_run(self, workflow: str, when: datetime | None) -> None:
        with self._write() as conn:
            conn.execute(update(workflows).where(workflows.c.name == workflow)
                         .values(next_run_at=when))

