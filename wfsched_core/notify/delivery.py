"""Send notifications in the background, remember how each destination's last one went,
and hold the process's exit up at most ``max_delay_on_exit`` seconds for those in flight.

A lifecycle hook must return within its budget, and a worker must not linger after its
execution ended, so every delivery (with its retries) runs in a daemon thread. At exit
an ``atexit`` handler joins the threads still running until a deadline, then gives up on
them (the interpreter ends daemon threads): the exit is delayed by at most that bound.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """A delivery that did not go through; the message says why (no secrets in it)."""


@dataclass(frozen=True)
class Outcome:
    """How the last notification to one destination went (``ok`` None: not sent)."""

    event: str
    ok: bool | None
    detail: str


class DeliveryTracker:
    """Runs deliveries in daemon threads; ``wait`` and the exit handler join them."""

    def __init__(self, notifier: str, max_delay_on_exit: float = 10.0) -> None:
        self.notifier = notifier
        self.max_delay_on_exit = max_delay_on_exit
        self._lock = threading.Lock()
        self._running: set[threading.Thread] = set()
        self._last: dict[str, Outcome] = {}
        self._exit_hook_registered = False

    def submit(self, target: str, event: str, send: Callable[[], str]) -> None:
        """Start ``send`` (returns a one-line detail, raises DeliveryFailed) in the background."""
        thread = threading.Thread(target=self._deliver, args=(target, event, send),
                                  name=f"wfsched-notify-{self.notifier}", daemon=True)
        with self._lock:
            self._running.add(thread)
            if not self._exit_hook_registered:
                atexit.register(self.drain_at_exit)
                self._exit_hook_registered = True
        thread.start()

    def skipped(self, target: str, event: str, reason: str) -> None:
        """Remember that a destination did not want an event."""
        with self._lock:
            self._last[target] = Outcome(event, None, f"not sent: {reason}")

    def last_outcome(self, target: str) -> Outcome | None:
        with self._lock:
            return self._last.get(target)

    def wait(self, timeout: float) -> bool:
        """Join the deliveries in flight for up to ``timeout`` seconds; True if none is left."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                running = list(self._running)
            if not running:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            running[0].join(remaining)

    def drain_at_exit(self) -> None:
        """The ``atexit`` handler: wait for deliveries in flight, within the bound."""
        with self._lock:
            count = len(self._running)
        if not count:
            return
        log.info("waiting up to %.1fs for %d %s notification(s) to be delivered",
                 self.max_delay_on_exit, count, self.notifier)
        if not self.wait(self.max_delay_on_exit):
            with self._lock:
                left = len(self._running)
            log.warning("gave up on %d %s notification(s) still being sent after %.1fs "
                        "(max_delay_on_exit)", left, self.notifier, self.max_delay_on_exit)

    def _deliver(self, target: str, event: str, send: Callable[[], str]) -> None:
        outcome = Outcome(event, False, "interrupted")
        try:
            outcome = Outcome(event, True, send())
            log.debug("%s notification (%s) to %s: %s", self.notifier, event, target,
                      outcome.detail)
        except DeliveryFailed as exc:
            outcome = Outcome(event, False, str(exc))
            log.warning("%s notification (%s) to %s failed: %s", self.notifier, event, target, exc)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the thread silently
            outcome = Outcome(event, False, f"{type(exc).__name__}: {exc}")
            log.error("%s notification (%s) to %s raised %s", self.notifier, event, target,
                      outcome.detail)
        finally:
            # one step, so that whoever sees the thread gone also sees its outcome
            with self._lock:
                self._last[target] = outcome
                self._running.discard(threading.current_thread())


def report_entry(notifier: str, target: str, events: tuple[str, ...],
                 workflows: tuple[str, ...] | None, outcome: Outcome | None) -> dict[str, Any]:
    """One row of ``wfsched_notify_report``."""
    return {
        "notifier": notifier,
        "target": target,
        "events": list(events),
        "workflows": list(workflows) if workflows is not None else None,
        "ok": outcome.ok if outcome else None,
        "detail": outcome.detail if outcome else "nothing sent by this process",
    }
