"""One scheduler per SQLite database: SQLite has no row locks to share work safely.

An advisory lock (``flock``) on a file beside the database: taken atomically, released by
the kernel when the holder dies, so a crashed scheduler never blocks the next one.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from wfsched_core.base.errors import SchedulerAlreadyRunningError


class SqliteSchedulerLock:
    """Hold ``<database>.scheduler.lock`` for the life of the scheduler."""

    def __init__(self, database_path: str) -> None:
        self.path = Path(database_path + ".scheduler.lock")
        self._file: IO[str] | None = None

    def acquire(self, describe_holder: str) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: the registry check still applies
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held while running
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or describe_holder
            handle.close()
            raise SchedulerAlreadyRunningError(
                f"another scheduler already runs on this SQLite database ({holder}); "
                "SQLite allows one scheduler: stop it first, or use PostgreSQL or "
                "MySQL/MariaDB to run several"
            )
        handle.truncate(0)
        handle.write(describe_holder)
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

