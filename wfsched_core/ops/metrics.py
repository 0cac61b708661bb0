"""Prometheus metrics of one scheduler: ``wfsched scheduler --metrics-port PORT``.

Needs ``prometheus_client`` (``pip install "wfsched-core[metrics]"``). Served metrics:

- ``wfsched_executions_total{workflow, status}`` (counter): executions this scheduler
  claimed that ended completed, failed or cancelled;
- ``wfsched_execution_duration_seconds{workflow}`` (histogram): their run times;
- ``wfsched_slots_in_use`` / ``wfsched_slots_max`` (gauges): workers running here, limit;
- ``wfsched_running_executions{workflow}`` (gauge): this scheduler's running executions;
- ``wfsched_queue_depth`` (gauge): executions pending in the database, and
  ``wfsched_queue_pending{queue}`` the same per queue (``default``: the unnamed one);
- ``wfsched_oldest_pending_age_seconds`` (gauge): how long the longest-waiting runnable
  pending execution has waited (0 when none), growing between ticks;
- ``wfsched_heartbeat_age_seconds`` (gauge): seconds since the main loop last ticked,
  computed when scraped, so a hung loop shows as a growing number;
- ``wfsched_build_info{version, python}`` (gauge, always 1);
- prometheus_client's default collectors: ``process_*`` (CPU, memory, open files),
  ``python_info`` and ``python_gc_*``.

No ``*_created`` series: prometheus_client adds one per counter and histogram, holding a
timestamp, and ``wfsched_executions_created`` read like a count of created executions.

Where the counts come from: the completed/failed events fire in the *worker* process,
not in the scheduler that serves the metrics, so a hook on them would count nothing
here. Instead, on each tick (once per heartbeat interval) the plugin asks the database
which executions claimed by this scheduler finished since the last look — an indexed
range on ``finished_at`` plus the owner — and counts each id once. That also counts the
outcomes the scheduler itself records (a worker that died, timed out or was cancelled).
Counters are per scheduler process and start at zero, as Prometheus expects; with several
schedulers, ``sum()`` over them gives the totals. Counts lag by at most one heartbeat.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import UsageError, WfschedError
from wfsched_core.framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.base.records import SchedulerRow
    from wfsched_core.store.contract import Store

log = logging.getLogger(__name__)

PLUGIN_NAME = "core.metrics"
# A worker stamps finished_at a moment before its transaction commits, so a row can
# appear with a time just before our last look: look back this far and skip ids seen.
LOOK_BACK = timedelta(seconds=120)
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, float("inf"))


class SchedulerMetrics:
    """The plugin object. Idle until :func:`start_metrics_server` gives it a store."""

    def __init__(self) -> None:
        self.store: Store | None = None
        self.registry: Any = None
        self._since: datetime | None = None
        self._seen: dict[int, datetime] = {}
        self._last_tick: float | None = None
        self._oldest_pending: datetime | None = None
        self._seen_queues: set[str] = set()
        self._seen_workflows: set[str] = set()
        self._lock = threading.Lock()

    def enable(self, store: Store) -> None:
        """Create the metrics in a registry of this object's own (no global state)."""
        import platform

        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            GCCollector,
            Histogram,
            PlatformCollector,
            ProcessCollector,
            disable_created_metrics,
        )

        from wfsched_core import __version__

        disable_created_metrics()  # read when scraped: applies to this registry too
        self.store = store
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.executions = Counter("wfsched_executions", "Executions claimed by this scheduler "
                                  "that ended, by workflow and final status",
                                  ["workflow", "status"], registry=self.registry)
        self.durations = Histogram("wfsched_execution_duration_seconds",
                                   "Run time of the executions that ended", ["workflow"],
                                   buckets=DURATION_BUCKETS, registry=self.registry)
        self.slots_in_use = Gauge("wfsched_slots_in_use", "Workers this scheduler runs now",
                                  registry=self.registry)
        self.slots_max = Gauge("wfsched_slots_max", "Workers this scheduler may run at once",
                               registry=self.registry)
        self.queue_depth = Gauge("wfsched_queue_depth", "Executions pending in the database",
                                 registry=self.registry)
        self.queue_pending = Gauge("wfsched_queue_pending",
                                   "Executions pending in the database, per queue",
                                   ["queue"], registry=self.registry)
        self.running = Gauge("wfsched_running_executions",
                             "Executions running under this scheduler, per workflow",
                             ["workflow"], registry=self.registry)
        oldest = Gauge("wfsched_oldest_pending_age_seconds",
                       "Seconds the longest-waiting runnable pending execution has waited",
                       registry=self.registry)
        oldest.set_function(self._oldest_pending_age)
        heartbeat = Gauge("wfsched_heartbeat_age_seconds",
                          "Seconds since the scheduler's main loop last ticked",
                          registry=self.registry)
        heartbeat.set_function(self._heartbeat_age)
        Gauge("wfsched_build_info", "The wfsched version and Python of this scheduler",
              ["version", "python"], registry=self.registry,
              ).labels(__version__, platform.python_version()).set(1)

    def _oldest_pending_age(self) -> float:
        from wfsched_core.base.records import utcnow

        oldest = self._oldest_pending
        return 0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())

    def loop_running(self, timeout: float) -> bool:
        """The scheduler registered, and its loop ticked within ``timeout`` seconds."""
        return self._last_tick is not None and self._heartbeat_age() <= timeout

    def _heartbeat_age(self) -> float:
        return 0.0 if self._last_tick is None else time.monotonic() - self._last_tick

    @hookimpl
    def wfsched_scheduler_started(self, scheduler: SchedulerRow) -> None:
        if self.store is None:
            return
        self._since = scheduler.started_at
        self._last_tick = time.monotonic()
        self.slots_max.set(scheduler.max_concurrent or 0)

    @hookimpl
    def wfsched_scheduler_tick(self, scheduler: SchedulerRow, running: int, pending: int,
                               max_concurrent: int) -> None:
        if self.store is None:
            return
        self._last_tick = time.monotonic()
        self.slots_in_use.set(running)
        self.slots_max.set(max_concurrent)
        self.queue_depth.set(pending)
        self.count_finished(scheduler.id)
        self.read_queues(scheduler.id)

    def read_queues(self, scheduler_id: str) -> None:
        """Per-queue depth, the oldest pending and what runs here, from the database.

        A label seen before and absent now is set to 0 rather than dropped, so a graph
        shows the queue emptying instead of a line that stops.
        """
        from wfsched_core.base.records import utcnow

        assert self.store is not None
        oldest = self.store.oldest_pending(utcnow())
        self._oldest_pending = None if oldest is None else oldest[2]
        queues = {queue or "default": n for queue, n in self.store.pending_by_queue().items()}
        _set_labelled(self.queue_pending, queues, self._seen_queues)
        running = self.store.running_by_workflow(scheduler_id)
        _set_labelled(self.running, running, self._seen_workflows)

    @hookimpl
    def wfsched_scheduler_stopping(self, scheduler: SchedulerRow) -> None:
        if self.store is not None:
            self.count_finished(scheduler.id)

    def count_finished(self, scheduler_id: str) -> int:
        """Count the executions of this scheduler that ended since the last look."""
        assert self.store is not None
        # the tick has a time budget: a late call may overlap the next; count each id once
        with self._lock:
            if self._since is None:  # scheduler_started did not run (it has a time budget)
                from wfsched_core.base.records import utcnow

                self._since = utcnow()
            since = self._since
            rows = self.store.finished_by_owner_since(scheduler_id, since - LOOK_BACK)
            added = 0
            for row in rows:
                if row.id in self._seen or row.finished_at < since - LOOK_BACK:
                    continue
                self._seen[row.id] = row.finished_at
                self.executions.labels(row.workflow, row.status).inc()
                if row.started_at is not None:
                    seconds = (row.finished_at - row.started_at).total_seconds()
                    self.durations.labels(row.workflow).observe(max(0.0, seconds))
                added += 1
            if rows:
                newest = max(row.finished_at for row in rows)
                self._since = max(since, newest)
                horizon = self._since - LOOK_BACK
                self._seen = {i: t for i, t in self._seen.items() if t >= horizon}
            return added


def _set_labelled(gauge: Any, values: dict[str, int], seen: set[str]) -> None:
    """Set one gauge child per label value; those seen before and absent now to 0."""
    for label in seen - set(values):
        gauge.labels(label).set(0)
    for label, value in values.items():
        gauge.labels(label).set(value)
    seen.update(values)


def start_metrics_server(plugin_manager: Any, store: Store, port: int,
                         address: str = "127.0.0.1", *, settings: Settings) -> Any:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``address:port`` for the
    scheduler about to run (see :mod:`wfsched_core.ops.metrics_server`).

    Raises a :class:`WfschedError` with the fix when the client library is missing, the
    plugin is disabled, or the port cannot be bound.
    """
    try:
        import prometheus_client
    except ImportError:
        raise UsageError('--metrics-port needs prometheus_client; install it with: '
                         'pip install "wfsched-core[metrics]"')
    plugin = plugin_manager.get_plugin(PLUGIN_NAME)
    if not isinstance(plugin, SchedulerMetrics):
        raise UsageError(f"--metrics-port needs the plugin {PLUGIN_NAME}, which is disabled")
    from wfsched_core.ops.metrics_server import health_app, serve

    plugin.enable(store)
    timeout = float(settings.scheduler_option("heartbeat_timeout"))
    app = health_app(prometheus_client.make_wsgi_app(plugin.registry), store, settings,
                     lambda: plugin.loop_running(timeout))
    try:
        server = serve(app, address, port)
    except OSError as exc:
        raise WfschedError(f"cannot serve metrics on {address}:{port}: {exc.strerror or exc}")
    log.info("serving Prometheus metrics on http://%s:%s/metrics", address, server.server_port)
    return server
