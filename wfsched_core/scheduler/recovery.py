"""Finding executions whose worker or scheduler is gone, and taking them over.

Rules (DESIGN.md, issue "crash safety"):
- a ``running`` execution owned by a live scheduler is that scheduler's business;
- one owned by a dead scheduler (or started by hand) is *adopted* while its worker
  proves alive (PID + create time on this host, else a fresh heartbeat), and marked
  ``failed`` (then retried per policy) when it does not;
- a ``pending`` execution claimed by a dead scheduler is released, to be claimed again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from wfsched_core.base.processes import is_same_process_alive
from wfsched_core.base.records import Execution, utcnow
from wfsched_core.framework.spawning import Liveness, WorkerState

if TYPE_CHECKING:
    from wfsched_core.store.contract import Store

log = logging.getLogger(__name__)

Probe = Callable[[Execution], "WorkerState | None"]


@dataclass
class Verdict:
    """What to do with one orphaned running execution."""

    execution: Execution
    adopt: bool
    reason: str = ""


def live_scheduler_ids(store: Store, me: str, host: str, heartbeat_timeout: float,
                       *, others_are_dead: bool = False,
                       now: datetime | None = None) -> set[str]:
    """Ids of schedulers that still run (by heartbeat, and by PID on this host)."""
    if others_are_dead:
        return {me}
    limit = (now or utcnow()) - timedelta(seconds=heartbeat_timeout)
    live = {me}
    # crashed schedulers never sign off: filter on the heartbeat, not a newest-first page
    for row in store.list_schedulers(active_only=True, limit=None, heartbeat_since=limit):
        if row.heartbeat_at < limit:
            continue
        if row.host == host and not is_same_process_alive(row.pid, None):
            continue
        live.add(row.id)
    return live


def judge_orphans(store: Store, live: set[str], tracked: set[int],
                  heartbeat_timeout: float, probe: Probe,
                  now: datetime | None = None) -> list[Verdict]:
    """Verdicts on running executions that no live scheduler owns.

    ``probe`` asks the execution's spawn strategy about its worker (None: it cannot see
    the worker from here, so the worker's heartbeat decides).
    """
    limit = (now or utcnow()) - timedelta(seconds=heartbeat_timeout)
    verdicts = []
    for execution in store.running_executions():
        if execution.id in tracked or execution.claimed_by in live:
            continue
        verdicts.append(_judge(execution, limit, probe))
    return verdicts


def _judge(execution: Execution, limit: datetime, probe: Probe) -> Verdict:
    state = probe(execution)
    if state is not None and state.liveness is Liveness.ALIVE:
        return Verdict(execution, adopt=True)
    if state is not None and state.liveness is Liveness.EXITED:
        return Verdict(execution, adopt=False,
                       reason=f"worker lost: process {execution.pid} on {execution.host} "
                              f"{state.reason or 'is gone'}")
    if execution.heartbeat_at is not None and execution.heartbeat_at >= limit:
        return Verdict(execution, adopt=True)
    seen = execution.heartbeat_at.isoformat(timespec="seconds") + "Z" \
        if execution.heartbeat_at else "never"
    return Verdict(execution, adopt=False,
                   reason=f"worker lost: no heartbeat since {seen} (host {execution.host}, "
                          f"pid {execution.pid})")


def release_dead_claims(store: Store, live: set[str]) -> int:
    """Give back pending executions claimed by schedulers that died before starting them."""
    released = 0
    for execution in store.claimed_pending():
        owner = execution.claimed_by
        if owner is not None and owner not in live and store.release_claim_of(execution.id,
                                                                               owner):
            log.warning("released execution %s claimed by dead scheduler %s",
                        execution.id, owner)
            released += 1
    return released
