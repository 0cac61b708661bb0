"""Paused workflows: the rows ``wfsched pause`` writes and ``resume`` deletes.

The claim leaves out every pending execution of a paused workflow (``statements.
claim_candidates``), and the schedule queues none of its ticks; the pause itself is only
these rows, so it holds on every scheduler on the database and survives restarts.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from wfsched_core.base.pauses import PAUSED_PREFIX, Pause
from wfsched_core.base.records import utcnow
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import workflow_executions as executions
from wfsched_core.store.db.schema import workflow_pauses as pauses

_PENDING = ExecutionStatus.PENDING.value


class PausesMixin(StoreBase):
    """Pausing and resuming workflows, and reading who paused what."""

    def paused_workflows(self) -> dict[str, Pause]:
        """Every paused workflow by name (a small table: read whole)."""
        with self._read() as conn:
            rows = conn.execute(select(pauses)).all()
        return {r.workflow: Pause(r.workflow, r.reason, r.paused_by, r.paused_at)
                for r in rows}

    def pause_workflows(self, names: Iterable[str], reason: str | None,
                        paused_by: str) -> tuple[list[Pause], dict[str, Pause]]:
        """Pause each of ``names`` that is not paused yet; returns the new pauses and
        those that stood already (kept as they were: the first pause's time and reason).

        The new pauses' pending executions get the pause as their ``wait_reason`` in the
        same transaction, so listings say why they wait."""
        wanted = sorted(set(names))
        for attempt in range(3):  # another pause of the same name may commit first
            try:
                return self._pause_once(wanted, reason, paused_by)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _pause_once(self, names: list[str], reason: str | None,
                    paused_by: str) -> tuple[list[Pause], dict[str, Pause]]:
        now = utcnow()
        with self._write() as conn:
            existing = {r.workflow: Pause(r.workflow, r.reason, r.paused_by, r.paused_at)
                        for r in conn.execute(select(pauses).where(
                            pauses.c.workflow.in_(names)))}
            created = [Pause(name, reason[:500] if reason else None, paused_by[:255], now)
                       for name in names if name not in existing]
            for pause in created:
                conn.execute(pauses.insert().values(
                    workflow=pause.workflow, reason=pause.reason,
                    paused_by=pause.paused_by, paused_at=pause.paused_at))
                conn.execute(update(executions).where(
                    executions.c.workflow == pause.workflow,
                    executions.c.status == _PENDING, executions.c.claimed_by.is_(None),
                ).values(wait_reason=pause.note[:500]))
        return created, existing

    def resume_workflows(self, names: Iterable[str] | None) -> list[str]:
        """Lift the pauses of ``names`` (None: every pause); the names that were paused.
        Their pending executions lose the pause's ``wait_reason`` and wake the schedulers."""
        with self._write() as conn:
            query = select(pauses.c.workflow)
            if names is not None:
                query = query.where(pauses.c.workflow.in_(sorted(set(names))))
            resumed = sorted(conn.execute(query).scalars().all())
            if not resumed:
                return []
            conn.execute(delete(pauses).where(pauses.c.workflow.in_(resumed)))
            conn.execute(update(executions).where(
                executions.c.workflow.in_(resumed), executions.c.status == _PENDING,
                executions.c.wait_reason.like(f"{PAUSED_PREFIX}%"),
            ).values(wait_reason=None))
            self._notify(conn)
        return resumed
