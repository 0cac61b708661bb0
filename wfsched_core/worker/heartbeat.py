"""The worker's heartbeat: a thread that proves the worker lives and hears cancels."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wfsched_core.store import SqlStore

log = logging.getLogger(__name__)


class Heartbeat:
    """Refresh ``heartbeat_at`` every ``interval`` seconds until stopped.

    When the database answers that a cancel was requested, ``on_cancel`` is called once
    (the worker then stops itself, which works whatever spawned it, on any host).
    """

    def __init__(self, store: SqlStore, execution_id: int, interval: float,
                 on_cancel: Callable[[], None]) -> None:
        self.store = store
        self.execution_id = execution_id
        self.interval = interval
        self.on_cancel = on_cancel
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wfsched-heartbeat",
                                        daemon=True)
        self._cancelled = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                cancel = self.store.heartbeat(self.execution_id)
            except Exception as exc:  # an outage must not kill the worker; retry next beat
                log.warning("heartbeat of execution %s failed (will retry): %s",
                            self.execution_id, exc)
                continue
            if cancel and not self._cancelled:
                self._cancelled = True
                log.warning("execution %s: cancel requested; stopping", self.execution_id)
                self.on_cancel()
