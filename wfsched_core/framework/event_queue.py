"""Lifecycle events delivered from a queue, off the path of the code that fires them.

Firing an event puts it on this process's queue and returns at once; one delivery thread
calls the hook (through pluggy, each plugin under the guard) for each event in the order
they were fired, so a worker frees its slot and ``trigger`` returns when the work is done,
not when the notifiers are. Each event is delivered once, by the process that fired it.

At exit (an ``atexit`` handler, which the fork server's children run too) the events still
queued are delivered within a bound (:attr:`EventQueue.exit_bound`: one budget for a
plugin that hangs, then its breaker skips it, and a margin); whatever is left after it is
logged by count and hook name. A process killed outright (SIGKILL, OOM) loses its queue,
as it would lose a call in progress: the queue holds only what was fired in the last
moments.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Deliver = Callable[[str, dict[str, Any]], None]


class EventQueue:
    """This process's queue of lifecycle events and the thread that delivers them."""

    def __init__(self, deliver: Deliver, exit_bound: float, handoff: float) -> None:
        self.deliver = deliver
        self.exit_bound = exit_bound
        self.handoff = handoff
        self._start_lock = threading.Lock()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pid = -1
        self._thread: threading.Thread | None = None
        self._events: queue.SimpleQueue[tuple[int, str, dict[str, Any]]] = queue.SimpleQueue()
        self._waiting: deque[str] = deque()  # hook names queued, not yet delivered, in order
        self._queued = 0
        self._delivered = 0
        self._exit_registered = False

    def put(self, hook_name: str, kwargs: dict[str, Any]) -> None:
        """Queue one event, and give the delivery thread up to ``handoff`` seconds to
        deliver it (plugins that answer at once have, before the caller goes on)."""
        if self._pid != os.getpid():
            with self._start_lock:
                if self._pid != os.getpid():
                    self._start()
        with self._idle:
            self._queued += 1
            number = self._queued
            self._waiting.append(hook_name)
            self._events.put((number, hook_name, kwargs))
            if self.handoff > 0 and threading.current_thread() is not self._thread:
                self._idle.wait_for(lambda: self._delivered >= number, self.handoff)

    def flush(self, timeout: float) -> int:
        """Wait until every queued event is delivered, at most ``timeout`` seconds; return
        how many are still waiting."""
        with self._idle:
            if self._pid != os.getpid():
                return 0  # nothing fired in this process (events of a parent stay its own)
            target = self._queued
            self._idle.wait_for(lambda: self._delivered >= target, timeout)
            return self._queued - self._delivered

    def _start(self) -> None:
        # A fresh queue in a new process: events the parent had queued when it forked are
        # the parent's to deliver, never the child's as well.
        self._lock = threading.Lock()  # one held by a parent's thread at the fork is lost
        self._idle = threading.Condition(self._lock)
        self._events = queue.SimpleQueue()
        self._waiting = deque()
        self._queued = self._delivered = 0
        self._thread = threading.Thread(target=self._loop, args=(self._events,),
                                        name="wfsched-events", daemon=True)
        self._thread.start()
        self._pid = os.getpid()
        if not self._exit_registered:
            self._exit_registered = True
            atexit.register(self._flush_at_exit)

    def _loop(self, events: queue.SimpleQueue[tuple[int, str, dict[str, Any]]]) -> None:
        while True:
            number, hook_name, kwargs = events.get()
            try:
                self.deliver(hook_name, kwargs)
            except Exception as exc:  # the guard catches plugins' errors; this is ours
                log.error("delivering %s failed: %s: %s", hook_name, type(exc).__name__, exc)
            finally:
                with self._idle:
                    if events is self._events:
                        self._delivered = number
                        self._waiting.popleft()
                    self._idle.notify_all()

    def _flush_at_exit(self) -> None:
        if self._pid != os.getpid():
            return
        left = self.flush(self.exit_bound)
        if left:
            with self._lock:
                names = Counter(self._waiting)
            log.warning("%d lifecycle event(s) not delivered within %.1fs at exit: %s", left,
                        self.exit_bound, ", ".join(f"{n} x{c}" for n, c in names.items()))
