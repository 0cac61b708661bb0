"""What ``scheduler --once`` leaves behind: pending executions it cannot start now.

``--once`` stops when nothing runs and every pending execution left is *held* (and lists,
as held too, the runs left waiting for an approval): by an admission plugin or a limit
(its reason), by a pause of its workflow (``wfsched pause``), by a retry's backoff or a
rate limit that ends later than ``SOON_SECONDS`` (or two poll intervals, if longer: a
sooner one is waited for, so a flaky run's retry completes in the same run), by a queue
this scheduler does not serve, or because its workflow is not installed here or is broken
(:func:`unrunnable_reason`: such executions are never claimed, so never started and
failed; they run once the workflow is back). One claimed by
another scheduler, or due soon, is not held: ``--once`` waits for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from wfsched_core.base.records import Execution, isoformat, utcnow

if TYPE_CHECKING:
    from wfsched_core.authoring.catalog import Catalog
    from wfsched_core.store.contract import Store

# --once waits for a retry whose backoff ends within this (or two poll intervals, if
# longer); a later one is listed as held.
SOON_SECONDS = 10.0


def unrunnable_reason(catalog: Catalog, workflow: str, host: str) -> str | None:
    """Why a scheduler on ``host`` with ``catalog`` cannot run ``workflow`` (None: it can)."""
    if catalog.find(workflow) is not None:
        return None
    broken = catalog.broken.get(workflow)
    if broken is not None:
        return f"workflow {workflow!r} is broken: {broken.reason}"
    return (f"workflow {workflow!r} is not installed (scheduler on {host}); it runs once "
            "a scheduler that has it starts")


def held_pending(store: Store, poll_interval: float,
                 queues: Sequence[str | None] | None,
                 unrunnable: Callable[[str], str | None] | None = None,
                 now: datetime | None = None,
                 ) -> list[tuple[int, str, str]] | None:
    """Each pending execution as ``(id, workflow, why it cannot start now)``; None when
    one can start now, or soon. ``now``: the scheduler's clock."""
    now = now or utcnow()
    soon = now + timedelta(seconds=max(2 * poll_interval, SOON_SECONDS))
    held = []
    paused = store.paused_workflows()
    for execution in store.pending_executions():
        pause = paused.get(execution.workflow)
        reason = None
        if execution.claimed_by is None:
            reason = (unrunnable(execution.workflow) if unrunnable is not None else None) \
                or (pause.note if pause is not None else None)
        reason = reason or hold_of(execution, now, soon, queues)
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
        why = execution.wait_reason or "a retry's backoff"  # or a rate limit's, if held
        return f"not before {isoformat(not_before)} ({why})"
    if not_before is not None and not_before > now:
        return None
    reason = execution.wait_reason
    if reason and reason.startswith(_LIMIT_REASONS):
        # a limit's hold written by an earlier claim: ``--once`` asks only when nothing
        # runs anywhere, and a rate limit's window has passed, so the next claim takes it
        return None
    return reason or None


# How the claim words the holds of a workflow's own limits (store/executions.py,
# store/flow_gate.py), as opposed to an admission plugin's reasons.
_LIMIT_REASONS = ("concurrency limit", "concurrency key", "rate limit")


def waiting_for_approval(store: Store) -> list[tuple[int, str, str]]:
    """Each run waiting for an approval as ``(id, workflow, what it waits for)``: a
    person decides those, not ``--once``, which stops rather than wait for them."""
    return [(e.id, e.workflow, e.wait_reason or "waiting for approval")
            for e in store.waiting_executions()]
