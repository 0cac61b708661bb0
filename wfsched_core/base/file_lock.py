"""An advisory file lock (``flock``) held for the life of a process, naming its holder.

Taken atomically, released by the kernel when the holder dies, so a crashed process never
blocks the next one. The holder writes a line about itself into the file, which a process
that finds the lock taken shows. Used for one scheduler per SQLite database and for
``scheduler --once --lock-file`` (one cron run at a time).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO


class HeldFileLock:
    """An exclusive, non-blocking ``flock`` on ``path``, held until :meth:`release` (or
    the end of the process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def try_acquire(self, describe_holder: str) -> str | None:
        """Take the lock and write ``describe_holder`` into the file; if another process
        holds it, leave it and return what that one wrote."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no flock; nothing is held
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held while running
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            return holder
        handle.truncate(0)
        handle.write(describe_holder)
        handle.flush()
        self._file = handle
        return None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
