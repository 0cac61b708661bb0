"""The health verdict: is this installation working, and if not, what exactly is wrong.

One function, :func:`check_health`, computes it; ``wfsched status --check``, the metrics
port's ``/healthz`` and ``/readyz`` and the web dashboard's routes all call it, so they
never disagree. It reads the database only (the scheduler registry and three indexed
queries), so it answers the same from any host that can reach the database.

The checks, each a ``problem`` with a ``check`` name when it fails:

- ``no_live_scheduler``: no scheduler heartbeat within ``[scheduler] heartbeat_timeout``;
- ``stale_heartbeat``: a scheduler that has not signed off is late with its heartbeat
  (older than ``stale_heartbeat``) or lost (older than the timeout: it died without
  saying so), reported for ``failure_window`` after its last beat;
- ``pending_age``: the oldest runnable pending execution has waited longer than
  ``max_pending_age``;
- ``failure_rate``: of the executions that finished in the last ``failure_window``, the
  share that failed is above ``max_failure_rate`` (counted only from
  ``failure_min_runs`` finished executions on: one failure out of one is not a rate);
- ``database``: the database cannot be read (then nothing else can be judged).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from wfsched_core.base.bounds import DAY, Bound
from wfsched_core.base.errors import ConfigError, DatabaseError
from wfsched_core.base.records import isoformat, utcnow

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.base.records import SchedulerRow
    from wfsched_core.store.contract import Store

#: the ``[health]`` table of ``wfsched.toml``: its keys and their limits
HEALTH_BOUNDS: dict[str, Bound] = {
    "max_pending_age": Bound(1, 30 * DAY, unit="seconds"),
    "failure_window": Bound(1, 30 * DAY, unit="seconds"),
    "max_failure_rate": Bound(0, 1),
    "failure_min_runs": Bound(1, 1_000_000, whole=True),
    "stale_heartbeat": Bound(0.1, DAY, unit="seconds"),
}


@dataclass(frozen=True)
class HealthThresholds:
    """Where healthy ends (``[health]`` of ``wfsched.toml``, overridden by options)."""

    max_pending_age: float = 600.0
    failure_window: float = 900.0
    max_failure_rate: float = 0.5
    failure_min_runs: int = 3
    #: default: half the heartbeat timeout, at least two heartbeat intervals
    stale_heartbeat: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> HealthThresholds:
        """The ``[health]`` table (checked: unknown keys and bad numbers are a
        :class:`ConfigError`) with the options that were given on top."""
        table = settings.section("health")
        where = str(settings.config_path or "configuration")
        for key, value in table.items():
            bound = HEALTH_BOUNDS.get(key)
            if bound is None:
                raise ConfigError(f"{where}: unknown [health] key {key!r} "
                                  f"({', '.join(sorted(HEALTH_BOUNDS))})")
            problem = bound.problem(value)
            if problem:
                raise ConfigError(f"{where}: [health] {key} {problem}")
        values = {**table, **{k: v for k, v in overrides.items() if v is not None}}
        if values.get("stale_heartbeat") is None:
            timeout = float(settings.scheduler_option("heartbeat_timeout"))
            interval = float(settings.scheduler_option("heartbeat_interval"))
            values["stale_heartbeat"] = min(timeout, max(timeout / 2, 2 * interval))
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass(frozen=True)
class Problem:
    """One failed check: its name and one line for a person."""

    check: str
    message: str


@dataclass
class Health:
    """The verdict and the facts it was made from (JSON-ready through :meth:`to_json`)."""

    time: datetime
    problems: list[Problem] = field(default_factory=list)
    schedulers: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, Any] = field(default_factory=dict)
    thresholds: HealthThresholds | None = None

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def database_reachable(self) -> bool:
        return all(p.check != "database" for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "time": isoformat(self.time),
            "problems": [asdict(p) for p in self.problems],
            "schedulers": self.schedulers,
            "pending": self.pending,
            "failures": self.failures,
            "thresholds": asdict(self.thresholds) if self.thresholds else None,
        }


def scheduler_panel(store: Store, settings: Settings,
                    now: datetime | None = None,
                    stale_after: float | None = None) -> list[dict[str, Any]]:
    """The schedulers that have not signed off and beat recently, newest first, each
    with ``state`` (``live``, ``stale``: late but not yet given up, ``lost``: past the
    heartbeat timeout), ``heartbeat_age`` and ``running`` (slots in use) — what the
    dashboard's scheduler panel and ``status --check`` show."""
    now = now or utcnow()
    thresholds = HealthThresholds.from_settings(settings, stale_heartbeat=stale_after)
    timeout = float(settings.scheduler_option("heartbeat_timeout"))
    remembered = max(timeout, thresholds.failure_window)
    rows = store.list_schedulers(active_only=True, limit=None,
                                 heartbeat_since=now - timedelta(seconds=remembered))
    running = store.running_by_owner() if rows else {}
    return [_panel_row(row, now, timeout, thresholds.stale_heartbeat or timeout,
                       running.get(row.id, 0)) for row in rows]


def _panel_row(row: SchedulerRow, now: datetime, timeout: float, stale_after: float,
               running: int) -> dict[str, Any]:
    age = max(0.0, (now - row.heartbeat_at).total_seconds())
    state = "lost" if age > timeout else "stale" if age > stale_after else "live"
    return {**row.to_json(), "heartbeat_age": round(age, 3), "state": state,
            "running": running}


def check_health(store: Store, settings: Settings,
                 thresholds: HealthThresholds | None = None,
                 now: datetime | None = None) -> Health:
    """The verdict on the installation behind ``store`` (see the module's docstring).

    Never raises for an unreachable database: that is the ``database`` problem.
    """
    thresholds = thresholds or HealthThresholds.from_settings(settings)
    health = Health(time=now or utcnow(), thresholds=thresholds)
    try:
        _check_schedulers(store, settings, thresholds, health)
        _check_pending(store, thresholds, health)
        _check_failures(store, thresholds, health)
    except DatabaseError as exc:
        health.problems.append(Problem("database", str(exc)))
    except SQLAlchemyError as exc:  # the queries' own (a locked or vanished database)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        health.problems.append(Problem(
            "database", f"cannot read the database {store.describe()}: {first}"))
    return health


def _check_schedulers(store: Store, settings: Settings, thresholds: HealthThresholds,
                      health: Health) -> None:
    health.schedulers = scheduler_panel(store, settings, health.time,
                                        thresholds.stale_heartbeat)
    timeout = float(settings.scheduler_option("heartbeat_timeout"))
    if not any(s["state"] != "lost" for s in health.schedulers):
        health.problems.append(Problem(
            "no_live_scheduler", f"no scheduler is live (none heartbeat in the last "
                                 f"{seconds_text(timeout)})"))
    for row in health.schedulers:
        who = f"scheduler {row['id']} on {row['host']} (pid {row['pid']})"
        age = seconds_text(row["heartbeat_age"])
        if row["state"] == "stale":
            health.problems.append(Problem(
                "stale_heartbeat", f"{who}: heartbeat {age} old (stale after "
                                   f"{seconds_text(thresholds.stale_heartbeat or timeout)})"))
        elif row["state"] == "lost":
            health.problems.append(Problem(
                "stale_heartbeat", f"{who}: lost, no heartbeat for {age} and it never "
                                   "signed off"))


def _check_pending(store: Store, thresholds: HealthThresholds, health: Health) -> None:
    oldest = store.oldest_pending(health.time)
    age = None if oldest is None else max(0.0, (health.time - oldest[2]).total_seconds())
    health.pending = {"count": store.count_active()["pending"],
                      "oldest_id": oldest[0] if oldest else None,
                      "oldest_workflow": oldest[1] if oldest else None,
                      "oldest_age_seconds": None if age is None else round(age, 3)}
    if oldest is not None and age is not None and age > thresholds.max_pending_age:
        health.problems.append(Problem(
            "pending_age", f"oldest pending execution #{oldest[0]} ({oldest[1]}) has waited "
                           f"{seconds_text(age)} (threshold "
                           f"{seconds_text(thresholds.max_pending_age)})"))


def _check_failures(store: Store, thresholds: HealthThresholds, health: Health) -> None:

    window = timedelta(seconds=thresholds.failure_window)
    counts = store.count_finished_since(health.time - window)
    failed, completed = counts.get("failed", 0), counts.get("completed", 0)
    judged = failed + completed  # a cancel is a person's decision, not a failure
    rate = failed / judged if judged else 0.0
    health.failures = {"window_seconds": thresholds.failure_window, "failed": failed,
                       "completed": completed, "cancelled": counts.get("cancelled", 0),
                       "rate": round(rate, 4)}
    if judged >= thresholds.failure_min_runs and rate > thresholds.max_failure_rate:
        health.problems.append(Problem(
            "failure_rate", f"{rate:.0%} of executions failed in the last "
                            f"{seconds_text(thresholds.failure_window)} ({failed} of {judged}; "
                            f"threshold {thresholds.max_failure_rate:.0%})"))


def seconds_text(seconds: float) -> str:
    """``42s``, ``15m``, ``2h05m``: short enough for one line per problem."""
    if seconds < 120:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}m"
