"""What ``scheduler --once`` leaves behind: pending executions it cannot start now.

``--once`` stops when nothing runs and every pending execution left is *held*
(and lists, as held too, the runs left waiting for an approval): by an
admission plugin (its reason), by a retry's backoff that ends later than ``SOON_SECONDS``
(or two poll intervals, if longer: a sooner one is waited for, so a flaky run's retry
completes in the same run), or by a queue this scheduler does not serve. One claimed by
another scheduler, or due soon, is not held: ``--once`` waits for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from wfsched_core.base.records import Execution, isoformat, utcnow

if TYPE_CHECKING:
    from wfsched_core.store import SqlStore

# --once waits for a retry whose backoff ends within this (or two poll intervals, if
# longer); a later one is listed as held.
SOON_SECONDS = 10.0


def held_pending(store: SqlStore, poll_interval: float,
                 queues: Sequence[str | None] | None) -> list[tuple[int, str, str]] | None:
    """Each pending execution as ``(id, workflow, why it cannot start now)``; None when
    one can start now, or soon."""
    now = utcnow()
    soon = now + timedelta(seconds=max(2 * poll_interval, SOON_SECONDS))
    held = []
    for execution in store.pending_executions():
        reason = hold_of(execution, now, soon, queues)
        if reason is None:
            return None
        held.append((execution.id, execution.workflow, reason))
    return held


def hold_of(execution: Execution, now: datetime, soon: datetime,
            queues: Sequence[str | None] | None) -> str | None:
    """Why ``execution`` cannot start now (None: it can, or soon)."""
    if execution.claimed_by is not None:
        return None  # a scheduler starts it (another one, or this one this instant)
    if queues is not None and execution.queue not in queues:
        return f"its queue {execution.queue or 'default'} is not served here (--queue)"
    not_before = execution.not_before
    if not_before is not None and not_before > soon:
        return f"not before {isoformat(not_before)} (a retry's backoff)"
    if not_before is not None and not_before > now:
        return None
    return execution.wait_reason or None


def waiting_for_approval(store: SqlStore) -> list[tuple[int, str, str]]:
    """Each run waiting for an approval as ``(id, workflow, what it waits for)``: a
    person decides those, not ``--once``, which stops rather than wait for them."""
    return [(e.id, e.workflow, e.wait_reason or "waiting for approval")
            for e in store.waiting_executions()]
