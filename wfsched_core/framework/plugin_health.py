"""Circuit breakers of plugins whose hook overran its budget, shared by every process.

A plugin whose call did not return within ``notify_budget`` is *skipped* for a back-off
period (``[scheduler] notify_backoff`` seconds, doubled at each consecutive overrun, at
most :data:`MAX_BACKOFF_FACTOR` times), so a hung notifier costs one budget per period
rather than one per event. The state lives in one small JSON file per plugin under
``$WFSCHED_HOME/plugin-health/``: the scheduler and the workers and commands of one host
share ``WFSCHED_HOME`` and so share it (a notifier hung for one process is hung for all of
them), ``wfsched plugins list`` and ``wfsched status`` read it without a database, and each
host keeps its own (a webhook unreachable from one host may work from another).

After the period the next call is a probe: it runs within the budget again; a return
closes the breaker (the file is removed), another overrun opens it for twice as long.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

HEALTH_DIR = "plugin-health"
MAX_BACKOFF_FACTOR = 64


@dataclass
class BreakerState:
    """One plugin's open breaker: why, since when (epoch seconds) and until when."""

    plugin: str
    hook: str
    reason: str
    opened_at: float
    open_until: float
    trips: int = 1
    host: str = ""
    pid: int = 0

    def is_open(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.open_until

    def describe(self, now: float | None = None) -> str:
        """One line for ``plugins list`` and ``status``."""
        left = max(0.0, self.open_until - (time.time() if now is None else now))
        return (f"skipped for {left:.0f}s more: {self.reason} "
                f"(in {self.hook}, overrun {self.trips} time(s) in a row)")


def _file_name(plugin: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", plugin) + ".json"


# Seconds a process trusts what it last read of a plugin's breaker file: another process's
# trip is seen within this.
RECHECK = 0.5


class BreakerBoard:
    """The breakers of one installation (``home``), cached in this process by file time."""

    def __init__(self, home: Path | None, backoff: float) -> None:
        self.directory = None if home is None else Path(home) / HEALTH_DIR
        self.backoff = backoff
        self._lock = threading.Lock()
        # breakers that could not be recorded in a file (no home, a full disk): this
        # process's own; the files are the truth otherwise
        self._local: dict[str, BreakerState] = {}
        self._cache: dict[str, tuple[tuple[int, int], BreakerState | None]] = {}
        # when each plugin's file was last looked at: at most every RECHECK seconds, not
        # on every call of a hook (two stats per call were a third of an event's cost)
        self._checked: dict[str, float] = {}

    def state(self, plugin: str) -> BreakerState | None:
        """The plugin's breaker as last recorded (open or expired), or None."""
        with self._lock:
            local = self._local.get(plugin)
        return local if local is not None else self._read(plugin)

    def is_open(self, plugin: str) -> bool:
        state = self.state(plugin)
        return state is not None and state.is_open()

    def trip(self, plugin: str, hook: str, reason: str) -> BreakerState:
        """Open the plugin's breaker: for ``backoff``, doubled if it was tripped before."""
        previous = self.state(plugin)
        trips = 1 if previous is None else previous.trips + 1
        factor = min(2 ** (trips - 1), MAX_BACKOFF_FACTOR)
        now = time.time()
        state = BreakerState(plugin, hook, reason, now, now + self.backoff * factor, trips,
                             socket.gethostname(), os.getpid())
        if not self._write(state):
            with self._lock:
                self._local[plugin] = state
        self._checked.pop(plugin, None)  # look again at what was written
        return state

    def close(self, plugin: str) -> None:
        """The plugin answered within its budget: forget its overruns."""
        with self._lock:
            had = self._local.pop(plugin, None)
        if self.directory is None:
            return
        if had is None and self._read(plugin) is None:
            return  # nothing recorded (as of the last look)
        path = self.directory / _file_name(plugin)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not clear the breaker of plugin %s: %s", plugin, exc)
        self._cache[plugin] = ((0, 0), None)
        self._checked[plugin] = time.monotonic()

    def _read(self, plugin: str) -> BreakerState | None:
        if self.directory is None:
            return None
        now = time.monotonic()
        cached = self._cache.get(plugin)
        if cached is not None and now - self._checked.get(plugin, -RECHECK) < RECHECK:
            return cached[1]
        self._checked[plugin] = now
        path = self.directory / _file_name(plugin)
        try:
            stat = path.stat()
        except OSError:
            self._cache[plugin] = ((0, 0), None)
            return None
        version = (stat.st_ino, stat.st_mtime_ns)  # os.replace gives a new inode
        cached = self._cache.get(plugin)
        if cached is not None and cached[0] == version:
            return cached[1]
        state = read_state(path)
        self._cache[plugin] = (version, state)
        return state

    def _write(self, state: BreakerState) -> bool:
        if self.directory is None:
            return False
        try:
            self.directory.mkdir(exist_ok=True)  # inside WFSCHED_HOME, never creating it
            path = self.directory / _file_name(state.plugin)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(asdict(state)))
            os.replace(temporary, path)  # readers see the old state or the new, never half
        except OSError as exc:  # a full disk must not turn a slow plugin into a failure
            log.warning("could not record the breaker of plugin %s: %s", state.plugin, exc)
            return False
        return True


def read_state(path: Path) -> BreakerState | None:
    try:
        return BreakerState(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def open_breakers(home: Path) -> dict[str, BreakerState]:
    """Every plugin skipped right now on this host, by name (for display)."""
    directory = Path(home) / HEALTH_DIR
    states: dict[str, BreakerState] = {}
    if not directory.is_dir():
        return states
    now = time.time()
    for path in sorted(directory.glob("*.json")):
        state = read_state(path)
        if state is not None and state.is_open(now):
            states[state.plugin] = state
    return states
