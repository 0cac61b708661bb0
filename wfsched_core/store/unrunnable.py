"""Pending executions of workflows a scheduler cannot run: not installed, or broken.

A scheduler claims only the workflows its catalog resolves (``claim_pending(runnable=)``);
the others stay pending, never claimed and failed, and run once a scheduler that has them
starts (the package installed again, the import fixed). What this module writes is why
they wait, as each execution's ``wait_reason`` (``executions list`` shows it as
``waiting: ...``): written once per change, not on every look.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from sqlalchemy import func, or_, select, update

from wfsched_core.base.status import ExecutionStatus
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import workflow_executions as executions

_PENDING = ExecutionStatus.PENDING.value


class UnrunnableMixin(StoreBase):
    """Why the executions a scheduler leaves alone wait."""

    def hold_unrunnable(self, runnable: Collection[str],
                        reason_of: Callable[[str], str]) -> dict[str, int]:
        """Give each unclaimed pending execution of a workflow outside ``runnable`` the
        reason ``reason_of(workflow)``; how many wait, by workflow. Indexed on ``status``."""
        return _hold_unrunnable(self, runnable, reason_of)


def _hold_unrunnable(store: StoreBase, runnable: Collection[str],
                     reason_of: Callable[[str], str]) -> dict[str, int]:
    c = executions.c
    waiting = (c.status == _PENDING, c.claimed_by.is_(None),
               c.workflow.not_in(sorted(runnable)))
    query = select(c.workflow, c.wait_reason, func.count()).where(*waiting) \
        .group_by(c.workflow, c.wait_reason)
    with store._read() as conn:
        rows = conn.execute(query).all()
    counts: dict[str, int] = {}
    stale: set[str] = set()
    for workflow, reason, count in rows:
        counts[workflow] = counts.get(workflow, 0) + count
        if reason != reason_of(workflow)[:500]:
            stale.add(workflow)
    if stale:
        with store._write() as conn:  # SQLite: the write lock first
            for workflow in sorted(stale):
                reason = reason_of(workflow)[:500]
                conn.execute(update(executions).where(
                    *waiting[:2], c.workflow == workflow,
                    or_(c.wait_reason.is_(None), c.wait_reason != reason),
                ).values(wait_reason=reason))
    return counts

