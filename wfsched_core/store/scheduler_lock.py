"""One scheduler per SQLite database: SQLite has no row locks to share work safely.

An advisory lock (``flock``, :mod:`wfsched_core.base.file_lock`) on a file beside the
database: taken atomically, released by the kernel when the holder dies, so a crashed
scheduler never blocks the next one.
"""

from __future__ import annotations

from pathlib import Path

from wfsched_core.base.errors import SchedulerAlreadyRunningError
from wfsched_core.base.file_lock import HeldFileLock


class SqliteSchedulerLock(HeldFileLock):
    """Hold ``<database>.scheduler.lock`` for the life of the scheduler: SQLite has no row
    locks to share work safely, so it allows one scheduler."""

    def __init__(self, database_path: str) -> None:
        super().__init__(Path(database_path + ".scheduler.lock"))

    def acquire(self, describe_holder: str) -> None:
        holder = self.try_acquire(describe_holder)
        if holder is not None:
            raise SchedulerAlreadyRunningError(
                f"another scheduler already runs on this SQLite database ({holder}); "
                "SQLite allows one scheduler: stop it first, or use PostgreSQL or "
                "MySQL/MariaDB to run several"
            )
