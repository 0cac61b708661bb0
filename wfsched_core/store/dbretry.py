"""Retry a database operation through an outage, with backoff and a clear log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from wfsched_core.base.errors import DatabaseError

T = TypeVar("T")
log = logging.getLogger(__name__)


def with_database_retry(operation: Callable[[], T], what: str, *, give_up_after: float,
                        first_delay: float = 0.5, max_delay: float = 10.0) -> T:
    """Run ``operation``; while the database is unreachable or locked, wait and retry.

    Gives up (re-raising) after ``give_up_after`` seconds, so that nothing hangs forever.
    """
    deadline = time.monotonic() + give_up_after
    delay = first_delay
    while True:
        try:
            return operation()
        except (DatabaseError, OperationalError) as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("database unavailable while trying to %s (retrying in %.1fs): %s",
                        what, delay, str(exc).splitlines()[0])
            time.sleep(delay)  # a backoff, not synchronisation
            delay = min(delay * 2, max_delay)
