"""What the scheduler watches for runs people steer: approval timeouts and deadlines.

Both are read from the database on every pass (indexed on status, and on workflow and
status), so a scheduler that was down when a time passed acts on it when it comes back;
both end in a compare-and-set, so with several schedulers each thing happens once: a
waiting run past its ``approval_timeout`` ends ``failed`` once, and a run past its
``deadline`` fires ``wfsched_execution_overdue`` once (``overdue_at`` goes from NULL to
set). Time is the scheduler's clock (injected in tests).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from wfsched_core.base.durations import describe_seconds

if TYPE_CHECKING:
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.records import Execution
    from wfsched_core.framework.hooks import PluginHooks
    from wfsched_core.scheduler.ticks import SystemClock
    from wfsched_core.store.contract import Store

log = logging.getLogger(__name__)


class SteeringChecks:
    """Approval timeouts and deadlines, checked once per pass of the loop's recovery."""

    def __init__(self, store: Store, hooks: PluginHooks,
                 specs: Mapping[str, WorkflowSpec], clock: SystemClock, owner: str) -> None:
        self.store = store
        self.owner = owner
        self.hooks = hooks
        self.clock = clock
        self.approval_timeouts = {name: spec.approval_timeout for name, spec in specs.items()
                                  if spec.approval_timeout}
        self.deadlines = {name: spec.deadline for name, spec in specs.items()
                          if spec.deadline}

    def check(self) -> None:
        now = self.clock.now()
        if self.approval_timeouts:
            self.expire_approvals(now)
        if self.deadlines:
            self.fire_overdue(now)

    def expire_approvals(self, now: datetime) -> None:
        for execution in self.store.waiting_executions():
            timeout = self.approval_timeouts.get(execution.workflow)
            since = execution.waiting_since
            if timeout is None or since is None or since + timedelta(seconds=timeout) > now:
                continue
            reason = (f"approval timeout: no decision within {describe_seconds(timeout)} "
                      f"({execution.wait_reason or 'waiting for approval'})")
            finished = self.store.expire_waiting(execution.id, since, reason, self.owner)
            if finished is not None:  # this scheduler's compare-and-set won: its event
                log.warning("execution %s: %s", execution.id, reason)
                self.hooks.execution_failed(finished.execution, will_retry=False)

    def fire_overdue(self, now: datetime) -> None:
        for execution in self.store.overdue_candidates(sorted(self.deadlines)):
            deadline = self.deadlines[execution.workflow]
            due = due_time(execution)
            if due is None or due + timedelta(seconds=deadline) > now:
                continue
            marked = self.store.mark_overdue(execution.id, now)
            if marked is not None:
                log.warning("execution %s of %s is overdue: not finished %s after %s",
                            execution.id, execution.workflow, describe_seconds(deadline),
                            due.isoformat(timespec="seconds"))
                self.hooks.execution_overdue(marked, deadline)


def due_time(execution: Execution) -> datetime | None:
    """What a deadline counts from: the scheduled time of a cron tick, else when queued."""
    return execution.scheduled_for or execution.created_at
