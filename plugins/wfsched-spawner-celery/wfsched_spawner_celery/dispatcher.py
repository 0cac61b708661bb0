"""Sending tasks to the broker from a thread of its own, retried until the broker takes them.

The scheduler's loop must never wait on a broker that is away: ``start`` hands the
message over and returns, this thread publishes it, and while the broker is unreachable
it keeps every message and tries again (every second, up to every five). Nothing is
dropped: an execution whose task was not sent yet stays ``pending``, claimed and counted
in ``--max-concurrent``, and is never marked running without a worker.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 1.0, 5.0


@dataclass(frozen=True)
class TaskMessage:
    """One ``wfsched.execute`` task: what is sent, and where."""

    task_id: str
    execution_id: int
    owner: str
    database: str  # the database's name: the worker checks that it serves this one
    queue: str


class Dispatcher:
    """Publishes :class:`TaskMessage` s in order; keeps and retries them through an outage."""

    def __init__(self, app: Celery, task_name: str, broker: str) -> None:
        self.app = app
        self.task_name = task_name
        self.broker = broker  # masked, for the log
        self._waiting: OrderedDict[int, TaskMessage] = OrderedDict()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="wfsched-celery-dispatch",
                                        daemon=True)
        self._thread.start()

    def send(self, message: TaskMessage) -> None:
        """Queue ``message`` for publication (a second one for the execution replaces it)."""
        with self._lock:
            self._waiting[message.execution_id] = message
        self._wake.set()

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def is_waiting(self, execution_id: int) -> bool:
        with self._lock:
            return execution_id in self._waiting

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        left = self.waiting()
        if left:
            log.warning("%d task(s) not sent to %s before the scheduler stopped: their "
                        "executions stay pending and are dispatched again", left, self.broker)

    def _run(self) -> None:
        delay = RETRY_FIRST
        down = False
        while not self._closed:
            self._wake.wait(delay if down else None)
            self._wake.clear()
            while not self._closed:
                with self._lock:
                    message = next(iter(self._waiting.values()), None)
                if message is None:
                    break
                try:
                    self._publish(message)
                except Exception as exc:  # kombu's errors vary by transport
                    if not down:
                        log.error("cannot send tasks to the Celery broker %s (retrying; the "
                                  "executions stay pending): %s", self.broker,
                                  str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                    down, delay = True, (min(delay * 2, RETRY_MAX) if down else RETRY_FIRST)
                    break
                with self._lock:
                    if self._waiting.get(message.execution_id) == message:
                        del self._waiting[message.execution_id]
                if down:
                    log.warning("the Celery broker %s is back: sending the waiting tasks",
                                self.broker)
                    down, delay = False, RETRY_FIRST

    def _publish(self, message: TaskMessage) -> Any:
        return self.app.send_task(
            self.task_name, args=[message.execution_id, message.owner, message.database],
            task_id=message.task_id, queue=message.queue, retry=False)
