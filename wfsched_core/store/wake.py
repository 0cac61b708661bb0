"""Instant wake-up of an idle scheduler when new work or a freed slot appears.

Triggers, retries and finished executions ``NOTIFY`` a channel in their transaction
(see ``base.py``): on PostgreSQL a LISTEN connection hears it, on a SQLite file a
FIFO beside the database (``db/sqlite_local.py``). An idle scheduler then claims at once
instead of at its next poll. On MySQL/MariaDB the poll interval stays; nothing here is
needed for correctness.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfsched_core.store.base import StoreBase

log = logging.getLogger(__name__)

# The PostgreSQL channel a committed trigger, retry or finish notifies (``base.py``).
NOTIFY_CHANNEL = "wfsched"


def start_wake_listener(store: StoreBase, wake: threading.Event) -> Any:
    """The listener for ``store``'s database, started (something with ``stop()``), or None
    (``StoreBase.start_wake_listener``)."""
    if store.can_listen:
        listener = NotificationListener(store, wake)
        listener.start()
        return listener
    if store.wake_fifo:
        from wfsched_core.store.db.sqlite_local import FifoListener

        fifo = FifoListener(store.wake_fifo, wake)
        return fifo if fifo.start() else None
    return None


class NotificationListener:
    """A thread holding one dedicated connection that sets ``wake`` on each NOTIFY."""

    def __init__(self, store: StoreBase, wake: threading.Event) -> None:
        self.store = store
        self.wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wfsched-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # the database went away: poll until it is back
                log.warning("LISTEN connection lost (%s); retrying", str(exc).splitlines()[0])
                self._stop.wait(2.0)

    def _listen(self) -> None:
        raw = self.store.engine.raw_connection()
        connection: Any = raw.driver_connection  # read first: detach() forgets it
        raw.detach()  # ours alone, outside the pool, in autocommit mode
        try:
            connection.autocommit = True
            connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
            while not self._stop.is_set():
                for _ in connection.notifies(timeout=1.0):
                    self.wake.set()
        finally:
            connection.close()
