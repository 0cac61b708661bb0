"""The worker's heartbeat: a thread that proves the worker lives and hears cancels."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Heartbeat:
    """Call ``beat`` every ``interval`` seconds until stopped.

    ``beat`` records the heartbeat (in the database, or through the scheduler) and returns
    whether a cancel was requested; then ``on_cancel`` is called once (the worker stops
    itself, which works whatever spawned it, on any host).
    """

    def __init__(self, beat: Callable[[], bool], execution_id: int, interval: float,
                 on_cancel: Callable[[], None]) -> None:
        self.beat = beat
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
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                cancel = self.beat()
            except Exception as exc:  # an outage must not kill the worker; retry next beat
                log.warning("heartbeat of execution %s failed (will retry): %s",
                            self.execution_id, exc)
                continue
            if cancel and not self._cancelled:
                self._cancelled = True
                log.warning("execution %s: cancel requested; stopping", self.execution_id)
                self.on_cancel()
