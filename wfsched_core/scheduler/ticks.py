"""Turning cron schedules into pending executions: due ticks, catch-up, overlap.

Each tick becomes a row exactly once, whatever the number of schedulers: the row is
unique on (workflow, scheduled time) in the database — a loser's insert simply fails.
A tick that will not run because it missed its ``start_deadline`` or because of
``overlap = "skip"`` is recorded as a ``cancelled`` execution whose error starts with
``skipped:``, so it is visible, and never considered missed again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from wfsched_core.authoring.flow_limits import key_for_spec
from wfsched_core.authoring.schedule import next_tick
from wfsched_core.base.status import Trigger

if TYPE_CHECKING:
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.pauses import Pause
    from wfsched_core.framework.hooks import PluginHooks
    from wfsched_core.store.contract import Store

log = logging.getLogger(__name__)

_JUST_BEFORE = timedelta(microseconds=1)

# After a long downtime with catchup = "all", no more than this many ticks are queued.
MAX_CATCHUP = 1000


class SystemClock:
    """The real clock, as naive UTC (how every timestamp is stored)."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class TickPlan:
    """What to do about the ticks of one workflow that are due."""

    run: list[datetime] = field(default_factory=list)
    skip: list[tuple[datetime, str]] = field(default_factory=list)
    dropped: int = 0  # missed ticks left out by catchup "latest" or "none"


def plan_due_ticks(spec: WorkflowSpec, last: datetime, now: datetime,
                   on_time: float) -> TickPlan:
    """The ticks after ``last`` up to ``now``, sorted into run / skip by the catch-up rules.

    A tick is *missed* when it is more than ``on_time`` seconds old (the scheduler was
    down or busy); the newest due tick within ``on_time`` is simply due.
    """
    assert spec.schedule
    due: list[datetime] = []
    tick = _tick_after(spec, last)
    while tick <= now:
        due.append(tick)
        if len(due) > MAX_CATCHUP:
            due.pop(0)
        tick = _tick_after(spec, tick)
    plan = TickPlan()
    if not due:
        return plan
    if spec.catchup == "all":
        chosen = due
    elif spec.catchup == "latest":
        chosen = due[-1:]
    else:  # "none": only a tick that is due now, never a missed one
        chosen = [due[-1]] if (now - due[-1]).total_seconds() <= on_time else []
    plan.dropped = len(due) - len(chosen)
    for tick in chosen:
        late = (now - tick).total_seconds()
        if spec.start_deadline is not None and late > spec.start_deadline:
            plan.skip.append((tick, f"missed its start deadline of {spec.start_deadline:g}s "
                                    f"by {late - spec.start_deadline:.0f}s"))
        else:
            plan.run.append(tick)
    return plan


class TickScheduler:
    """Keeps each scheduled workflow's next tick and queues ticks as they come due."""

    def __init__(self, store: Store, hooks: PluginHooks, specs: dict[str, WorkflowSpec],
                 clock: SystemClock, on_time: float) -> None:
        self.store = store
        self.hooks = hooks
        self.clock = clock
        self.on_time = on_time
        self.specs = {n: s for n, s in specs.items() if s.schedule}
        self._next: dict[str, datetime] = {}
        self._last: dict[str, datetime] = {}

    def start(self) -> None:
        """Pick up where the database says each workflow's schedule stands (catch-up
        included): after its latest tick that has a row, or from the next tick recorded
        for it, whichever is later. A workflow seen for the first time records its first
        tick (the next after now), so that a scheduler started later — ``--once`` from
        cron, a restart — runs that tick and those after it, instead of counting again
        from its own start."""
        now = self.clock.now()
        for name, spec in self.specs.items():
            first_tick = _tick_after(spec, now)
            position = self.store.schedule_position(name, first_tick) or first_tick
            # just before the recorded tick: next_tick() returns the tick itself
            since = position - _JUST_BEFORE
            last_row = self.store.last_scheduled_for(name)
            self._last[name] = max(since, last_row) if last_row is not None else since
            self._next[name] = _tick_after(spec, self._last[name])
            self.store.set_next_run(name, self._next[name])

    def next_due(self) -> datetime | None:
        return min(self._next.values(), default=None)

    def queue_due(self) -> int:
        """Queue (or record as skipped) every tick that is due now; return how many queued."""
        now = self.clock.now()
        queued = 0
        paused: dict[str, Pause] | None = None  # read once, only when a tick is due
        for name, spec in self.specs.items():
            if self._next[name] > now:
                continue
            if paused is None:
                paused = self.store.paused_workflows()
            if name in paused:
                self._pass_over_paused(name, spec, now)
                continue
            plan = plan_due_ticks(spec, self._last[name], now, self.on_time)
            if plan.dropped:
                log.warning("%s: %d missed tick(s) not run (catchup = %r)", name,
                            plan.dropped, spec.catchup)
            for tick, reason in plan.skip:
                if self.store.record_skipped_tick(name, tick, reason, priority=spec.priority,
                                                  queue=spec.queue):
                    log.warning("%s: tick %s skipped: %s", name, tick.isoformat(), reason)
            for tick in plan.run:
                queued += self._queue_tick(spec, tick)
            self._last[name] = max([now, *plan.run, *(t for t, _ in plan.skip)])
            self._next[name] = _tick_after(spec, self._last[name])
            self.store.set_next_run(name, self._next[name])
        return queued

    def _pass_over_paused(self, name: str, spec: WorkflowSpec, now: datetime) -> None:
        """A paused workflow's due ticks are passed over, not queued and not recorded:
        the schedule goes on from the next tick after ``now``, and ``wfsched backfill``
        can still run the ticks of the pause (they have no row)."""
        log.info("%s is paused: ticks up to %s not queued", name, now.isoformat())
        self._last[name] = now
        self._next[name] = _tick_after(spec, now)
        self.store.set_next_run(name, self._next[name])

    def _queue_tick(self, spec: WorkflowSpec, tick: datetime) -> int:
        if spec.overlap == "skip" and self.store.active_count(spec.name) > 0:
            self.store.record_skipped_tick(spec.name, tick,
                                           "the previous run is still active (overlap = skip)",
                                           priority=spec.priority, queue=spec.queue)
            return 0
        created = self.store.enqueue(spec.name, priority=spec.priority, queue=spec.queue,
                                     trigger=Trigger.SCHEDULE, scheduled_for=tick,
                                     concurrency_key=key_for_spec(spec, {}))
        if not created:
            return 0  # another scheduler queued this tick first
        if spec.overlap == "replace":
            self._cancel_older_runs(spec, keep=created[0].id)
        for execution in created:
            self.hooks.execution_queued(execution)
        return len(created)

    def _cancel_older_runs(self, spec: WorkflowSpec, keep: int) -> None:
        from wfsched_core.scheduler.cancellation import request_cancel_quietly

        for execution in self.store.list_executions(workflow=spec.name, status="pending") + \
                self.store.running_executions(spec.name):
            if execution.id != keep:
                log.warning("%s: cancelling #%s, replaced by a new tick (overlap = replace)",
                            spec.name, execution.id)
                request_cancel_quietly(self.store, self.hooks, execution.id)


def seconds_until(when: datetime | None, now: datetime) -> float | None:
    if when is None:
        return None
    return max(0.0, (when - now) / timedelta(seconds=1))


def _tick_after(spec: WorkflowSpec, after: datetime) -> datetime:
    """The first tick of ``spec``'s schedule strictly after ``after`` (only scheduled
    workflows are kept by ``TickScheduler``)."""
    assert spec.schedule is not None
    return next_tick(spec.schedule, spec.timezone, after)
