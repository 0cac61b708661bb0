"""The worker's heartbeat: a thread that proves the worker lives and hears cancels."""

from __future__ import annotations

import _thread
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class Heartbeat:
    """Call ``beat`` every ``interval`` seconds until stopped.

    ``beat`` records the heartbeat (in the database, or through the scheduler) and returns
    whether a cancel was requested; then ``on_cancel`` is called once (the worker stops
    itself, which works whatever spawned it, on any host).

    A bare thread and two locks rather than ``threading.Thread``: starting and stopping
    that cost a fifth of a short forked execution.
    """

    def __init__(self, beat: Callable[[], bool], execution_id: int, interval: float,
                 on_cancel: Callable[[], None]) -> None:
        self.beat = beat
        self.execution_id = execution_id
        self.interval = interval
        self.on_cancel = on_cancel
        self._stop = _thread.allocate_lock()  # held until stop() releases it
        self._running = _thread.allocate_lock()  # held while the thread runs
        self._started = False
        self._cancelled = False

    def start(self) -> None:
        self._stop.acquire()
        self._running.acquire()
        self._started = True
        _thread.start_new_thread(self._run, ())

    def stop(self) -> None:
        """Stop beating; wait (bounded) for a beat in flight to end."""
        if not self._started:
            return
        self._started = False
        self._stop.release()
        if self._running.acquire(timeout=self.interval + 5):
            self._running.release()

    def _run(self) -> None:
        try:
            while not self._stop.acquire(timeout=self.interval):
                self._beat_once()
            self._stop.release()
        finally:
            self._running.release()

    def _beat_once(self) -> None:
        try:
            cancel = self.beat()
        except Exception as exc:  # an outage must not kill the worker; retry next beat
            log.warning("heartbeat of execution %s failed (will retry): %s",
                        self.execution_id, exc)
            return
        if cancel and not self._cancelled:
            self._cancelled = True
            log.warning("execution %s: cancel requested; stopping", self.execution_id)
            self.on_cancel()
