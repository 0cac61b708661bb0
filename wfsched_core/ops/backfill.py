"""``wfsched backfill``: a schedule's ticks in a past window, each queued once.

The window is read in the workflow's timezone (a day is that day's local midnight to the
next, 23 or 25 hours across a DST change), and its ticks come from the same
``next_tick`` the scheduler uses, so a backfill runs exactly the ticks the schedule would
have run. A tick that already has a row — run, queued, or recorded as skipped — is left
alone; the others are queued as ordinary pending executions (trigger ``backfill``), so the
workflow's limits, priority, queue and any pause apply to them at the claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from wfsched_core.base.errors import UsageError
from wfsched_core.base.records import isoformat, utcnow

if TYPE_CHECKING:
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.framework.hooks import PluginHooks
    from wfsched_core.store.contract import Store

# A window holding more ticks than this is refused (a typo in a year queues no million runs).
MAX_BACKFILL_TICKS = 10_000
_JUST_BEFORE = timedelta(microseconds=1)


@dataclass
class BackfillTick:
    """One tick of the window: when, and the execution it has (or got)."""

    at: datetime  # naive UTC
    local: str  # the same instant in the workflow's timezone, with its offset
    existing: tuple[int, str] | None = None  # (id, status) of the row it already has
    queued_id: int | None = None

    @property
    def utc_text(self) -> str:
        return isoformat(self.at) or ""

    def outcome(self, dry_run: bool) -> str:
        if self.existing is not None:
            return f"has #{self.existing[0]} ({self.existing[1]})"
        if self.queued_id is not None:
            return f"queued #{self.queued_id}"
        return "would queue" if dry_run else "queued elsewhere meanwhile"

    def to_json(self) -> dict[str, Any]:
        return {"scheduled_for": self.utc_text, "local": self.local,
                "existing_id": self.existing[0] if self.existing else None,
                "existing_status": self.existing[1] if self.existing else None,
                "queued_id": self.queued_id}


@dataclass
class BackfillPlan:
    """The ticks of a window, each with its row if it has one; ``note``: what to know."""

    ticks: list[BackfillTick]
    note: str | None = None


def parse_bound(text: str, option: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """``--from``/``--to`` as naive UTC: a date is its local midnight (``--to``: the next
    midnight, so the day is included); an instant is local unless it has an offset (a
    ``--to`` instant is included: one microsecond is added)."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            local = datetime.combine(day + timedelta(days=1 if end else 0),
                                     datetime.min.time(), tzinfo=zone)
            return local.astimezone(timezone.utc).replace(tzinfo=None)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date: expected YYYY-MM-DD or "
                         f"YYYY-MM-DDTHH:MM") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    at = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return at + _JUST_BEFORE if end else at


def window_ticks(spec: WorkflowSpec, start: datetime, end: datetime) -> list[datetime]:
    """The schedule's ticks with ``start <= tick < end`` (naive UTC)."""
    from wfsched_core.authoring.schedule import next_tick

    assert spec.schedule
    ticks: list[datetime] = []
    tick = next_tick(spec.schedule, spec.timezone, start - _JUST_BEFORE)
    while tick < end:
        if len(ticks) == MAX_BACKFILL_TICKS:
            raise UsageError(f"the window holds more than {MAX_BACKFILL_TICKS} ticks of "
                             f"{spec.name}; backfill a shorter one at a time")
        ticks.append(tick)
        tick = next_tick(spec.schedule, spec.timezone, tick)
    return ticks


def plan_backfill(store: Store, spec: WorkflowSpec, start_text: str,
                  end_text: str) -> BackfillPlan:
    """The window's ticks up to now, each with the row it has; bad input is a usage error."""
    if not spec.schedule:
        raise UsageError(f"workflow {spec.name!r} has no schedule: nothing to backfill")
    zone = ZoneInfo(spec.timezone)
    start = parse_bound(start_text, "--from", zone, end=False)
    end = parse_bound(end_text, "--to", zone, end=True)
    if start >= end:
        raise UsageError(f"--from {start_text} is after --to {end_text}")
    now = utcnow()
    if start > now:
        raise UsageError(f"--from {start_text} is in the future: the schedule queues "
                         f"those ticks itself")
    ticks = window_ticks(spec, start, end)
    later = [t for t in ticks if t > now]
    ticks = ticks[:len(ticks) - len(later)]
    rows = store.scheduled_rows(spec.name, start, min(end, now + _JUST_BEFORE))
    notes = []
    if later:
        notes.append(f"{len(later)} tick(s) after now are left to the schedule")
    pause = store.paused_workflows().get(spec.name)
    if pause is not None:
        notes.append(f"{spec.name} is {pause.note}: its runs wait until "
                     f"'wfsched resume {spec.name}'")
    return BackfillPlan([BackfillTick(t, _local(t, zone), rows.get(t)) for t in ticks],
                        "; ".join(notes) or None)


def run_backfill(store: Store, hooks: PluginHooks, spec: WorkflowSpec,
                 plan: BackfillPlan) -> list[BackfillTick]:
    """Queue the plan's ticks that have no row; each queued one is announced."""
    missing = [t for t in plan.ticks if t.existing is None]
    created = store.enqueue_ticks(spec.name, [t.at for t in missing], priority=spec.priority,
                                  queue=spec.queue)
    by_tick = {e.scheduled_for: e for e in created}
    for tick in missing:
        execution = by_tick.get(tick.at)
        if execution is not None:
            tick.queued_id = execution.id
            hooks.execution_queued(execution)
    return plan.ticks


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.replace(tzinfo=timezone.utc).astimezone(zone).isoformat(timespec="minutes")
