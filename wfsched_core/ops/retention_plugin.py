"""Daily retention in the scheduler: ``retention = "30d"`` in ``[scheduler]``.

On the scheduler's tick, at most once a day (the first time soon after it starts), prune
executions that finished longer ago than ``retention`` — the same batched prune as
``wfsched prune``. The prune runs in a thread of its own so the tick, which has a time
budget, returns at once; a prune still running when the next one is due is not doubled.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from wfsched_core.base.errors import ConfigError, UsageError
from wfsched_core.framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.base.records import SchedulerRow

log = logging.getLogger(__name__)

PRUNE_EVERY = 24 * 3600.0  # seconds


class DailyRetention:
    """The plugin object: the setting from ``wfsched_configure``, the prune on the tick."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.retention: timedelta | None = None
        self.next_prune = 0.0
        self._thread: threading.Thread | None = None

    @hookimpl
    def wfsched_configure(self, settings: Settings) -> None:
        self.settings = settings
        value = settings.scheduler_option("retention")
        if not value:
            self.retention = None
            return
        from wfsched_core.base.ages import parse_age  # only when set: workers start lean

        try:
            self.retention = parse_age(value, "[scheduler] retention")
        except UsageError as exc:
            raise ConfigError(str(exc))

    @hookimpl
    def wfsched_scheduler_tick(self, scheduler: SchedulerRow) -> None:
        if self.retention is None or self.settings is None:
            return
        now = time.monotonic()
        if now < self.next_prune or (self._thread is not None and self._thread.is_alive()):
            return
        self.next_prune = now + PRUNE_EVERY
        self._thread = threading.Thread(target=self._prune, name="wfsched-retention",
                                        daemon=True)
        self._thread.start()

    def _prune(self) -> None:
        from wfsched_core.ops.retention import prune_finished
        from wfsched_core.store import SqlStore

        assert self.settings is not None and self.retention is not None
        # a store of its own: the hook is not given the scheduler's, and a separate pool
        # keeps the prune's connections out of the scheduler's way
        store = SqlStore(self.settings.database_url)
        try:
            result = prune_finished(store, self.settings.logs_dir, self.retention)
            if result.executions:
                log.info("retention %s: removed %d execution(s), %d log file(s)",
                         self.settings.scheduler_option("retention"), result.executions,
                         result.log_files)
        except Exception as exc:  # noqa: BLE001 - a failed prune is retried tomorrow
            log.error("retention prune failed: %s", exc)
        finally:
            store.dispose()
