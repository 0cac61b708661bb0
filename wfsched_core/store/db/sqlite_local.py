"""What SQLite lacks for many processes on one host: a fair writer queue and a wake-up.

**The writer gate.** SQLite has one writer at a time. A process that finds the write lock
taken waits in SQLite's busy handler, which *sleeps* and retries (1, 2, 5, 10 ... 100 ms):
with a scheduler and five workers writing a few rows each, most of an execution's time
went to those sleeps, not to work. Every writing transaction of the store therefore first
takes an advisory ``flock`` on ``<database>.write.lock``: the kernel queues the waiters
and wakes the next one the moment the holder is done. ``BEGIN IMMEDIATE`` and the busy
timeout stay underneath (a process that does not take the gate, such as a migration, is
still serialised by SQLite itself); the gate only replaces sleeping by queueing.

**The wake FIFO.** PostgreSQL tells a listening scheduler about new work (NOTIFY); SQLite
cannot. The one scheduler of a SQLite database (see ``store/scheduler_lock.py``) reads a FIFO
``<database>.wake``; a process that committed new work writes one byte to it, which the
scheduler's listener thread turns into an immediate claim. Nobody reading (no scheduler
running) or no FIFO is fine: the poll interval still finds the work.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import stat
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

fcntl: Any
try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Set on every connection: WAL, a busy timeout (SQLAlchemy's engine and the standard
#: library connections of ``store/sqlite_direct.py`` alike).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
)


class WriterGate:
    """An inter-process (``flock``) and inter-thread (``RLock``) queue for writers.

    The lock file is opened once per process, lazily: a forked child must not use the
    parent's open file (a ``flock`` belongs to the open file, not to the process, so
    sharing it would let parent and child in together); ``os.register_at_fork`` resets
    the gate in the child before any other thread of it exists.
    """

    def __init__(self, database_path: str) -> None:
        self.path = database_path + ".write.lock"
        self._forget()
        gate = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_in_child(gate))

    @staticmethod
    def available() -> bool:
        """Whether this platform has ``flock`` (not Windows: there SQLite's busy handler
        alone serialises writers)."""
        return fcntl is not None

    def _forget(self) -> None:
        self._local = threading.RLock()
        self._fd = -1
        self._opened = False
        self._depth = 0

    def _file(self) -> int:
        """The lock file (opened on first use, under ``_local``); -1 where it cannot be."""
        if not self._opened:
            self._opened = True
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:  # a read-only directory: SQLite's busy handler only
                log.debug("no SQLite writer gate at %s: %s", self.path, exc)
        return self._fd

    def close(self) -> None:
        """Close the lock file (it is opened again on the next use)."""
        with self._local:
            if self._fd >= 0:
                os.close(self._fd)
            self._fd, self._opened = -1, False

    @contextmanager
    def hold(self) -> Iterator[None]:
        assert fcntl is not None  # StoreBase builds a gate only where flock exists
        with self._local:
            fd = self._file()
            self._depth += 1
            try:
                if fd >= 0 and self._depth == 1:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if fd >= 0 and self._depth == 1:
                        fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                self._depth -= 1


def _forget_in_child(gate: weakref.ref[WriterGate]) -> None:
    """After a fork, in the child: the parent's lock file and lock state are not ours."""
    live = gate()
    if live is not None:
        if live._fd >= 0:
            try:
                os.close(live._fd)  # our copy only: the parent's lock, if held, stays
            except OSError:
                pass
        live._forget()


def sqlite_database_path(url_database: str | None) -> str | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    if not url_database or url_database == ":memory:" or url_database.startswith("file:"):
        return None
    return os.path.abspath(os.path.expanduser(url_database))


def wake_path(database_path: str) -> str:
    return database_path + ".wake"


def fifos_available() -> bool:
    return hasattr(os, "mkfifo") and hasattr(os, "O_NONBLOCK")


def poke(path: str) -> None:
    """Wake the scheduler reading the FIFO at ``path``, if one does; never blocks."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # ENXIO: no reader; ENOENT: no scheduler ever ran here
        return
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return  # something else at that path: never write into it
        os.write(fd, b"!")
    except OSError as exc:
        if exc.errno != errno.EAGAIN:  # full: a wake-up is pending anyway
            log.debug("could not wake the scheduler through %s: %s", path, exc)
    finally:
        os.close(fd)


class FifoListener:
    """The scheduler's side: a thread that sets ``wake`` for each byte in the FIFO."""

    def __init__(self, path: str, wake: threading.Event) -> None:
        self.path = path
        self.wake = wake
        self._fd = -1
        self._stop_read, self._stop_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="wfsched-wake-fifo",
                                        daemon=True)

    def start(self) -> bool:
        """Open (creating if needed) the FIFO and listen; False where that cannot be."""
        try:
            try:
                os.mkfifo(self.path, 0o622)
            except FileExistsError:
                pass
            # read-write: the FIFO never reports end-of-file when a writer closes it
            self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
            if not stat.S_ISFIFO(os.fstat(self._fd).st_mode):
                os.close(self._fd)
                self._fd = -1
                raise OSError(f"{self.path} exists and is not a FIFO")
        except (OSError, AttributeError) as exc:  # no FIFOs here: the poll interval does
            log.info("no wake-up FIFO at %s (%s); new work is found by polling", self.path,
                     exc)
            self._close_pipe()
            return False
        self._thread.start()
        return True

    def stop(self) -> None:
        if self._fd < 0:
            return
        os.write(self._stop_write, b"x")
        self._thread.join(timeout=3)
        os.close(self._fd)
        self._fd = -1
        self._close_pipe()

    def _close_pipe(self) -> None:
        for fd in (self._stop_read, self._stop_write):
            os.close(fd)

    def _run(self) -> None:
        while True:
            readable, _, _ = select.select([self._fd, self._stop_read], [], [])
            if self._stop_read in readable:
                return
            try:
                os.read(self._fd, 4096)
            except BlockingIOError:
                continue
            self.wake.set()
