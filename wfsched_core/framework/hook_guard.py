"""wfsched's guard around each plugin's implementation of a lifecycle or admission hook.

Pluggy calls the hooks (its order: ``tryfirst`` and last registered first, ``trylast``
last, ``wrapper=True`` wrappers around the others); the guard is installed *inside* that
call, on each implementation, when a plugin is registered: the ``HookImpl``'s function is
replaced by a guarded one (the argument names pluggy already read stay). So a pluggy
user's expectations hold, and the guard still knows which plugin it is calling:

- a third-party implementation runs in its plugin's own thread (its *lane*) within the
  time budget (``[scheduler] notify_budget``); one that raises is logged with the plugin's
  name and counts as no answer; one that overruns is left behind in its lane and trips the
  plugin's circuit breaker (:mod:`wfsched_core.framework.plugin_health`), so the plugin is skipped
  for a back-off period instead of costing a budget per event. A lane still stuck in an
  earlier call skips the plugin too: there is never more than one thread per plugin, so
  the thread count stays bounded whatever plugins do.
- a new-style wrapper's code before and after its ``yield`` is guarded the same way; a
  wrapper that fails or overruns is passed through (the call goes on without it).
- the core's own built-ins (which log, count or send one datagram) are called directly,
  in the calling thread, guarded against errors only.
"""

from __future__ import annotations

import _thread
import logging
import os
import queue
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from wfsched_core.base.code_location import raise_site
from wfsched_core.framework.builtins import BUILTIN_MODULES
from wfsched_core.framework.hookspecs import GUARDED_HOOKS
from wfsched_core.framework.plugin_health import BreakerBoard

if TYPE_CHECKING:
    import pluggy

log = logging.getLogger(__name__)

# Set on a guarded function, so that a HookImpl is never guarded twice.
_GUARDED = "__wfsched_guarded__"
# Set on a guarded function: True when it guards one of the core's own built-ins.
_BUILTIN = "__wfsched_builtin__"


def is_third_party(impl: Any) -> bool:
    """Whether a guarded hook implementation is a plugin's rather than a core built-in."""
    return not getattr(impl.function, _BUILTIN, False)


def _is_builtin(function: Callable[..., Any]) -> bool:
    return getattr(function, "__module__", None) in BUILTIN_MODULES


class _Call:
    """One call handed to a lane, and its outcome (a bare lock, released when it is
    done: cheaper than an Event, and a call happens per plugin per event)."""

    __slots__ = ("_done", "error", "finished", "function", "value")

    def __init__(self, function: Callable[[], Any]) -> None:
        self.function = function
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self.finished = False
        self.value: Any = None
        self.error: BaseException | None = None

    def wait(self, timeout: float) -> bool:
        """True once it ran, within ``timeout`` seconds."""
        if self._done.acquire(timeout=timeout):
            self._done.release()
            return True
        return False

    def run(self) -> None:
        try:
            self.value = self.function()
        except BaseException as exc:  # noqa: BLE001 - reported by the guard
            self.error = exc
        finally:
            self.finished = True
            self._done.release()


class PluginLane:
    """The one thread that runs a plugin's guarded calls, one after another."""

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.pid = os.getpid()
        self._turn = threading.Lock()  # one caller at a time hands over and waits
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._current: _Call | None = None
        self._thread = threading.Thread(target=self._loop, name=f"wfsched-plugin-{plugin}",
                                        daemon=True)
        self._thread.start()

    @property
    def stuck(self) -> bool:
        """Still inside a call that overran its budget."""
        current = self._current
        return current is not None and not current.finished

    def run(self, call: _Call, budget: float) -> bool:
        """Run ``call``; False when it did not finish within ``budget`` seconds (or the
        lane could not be had within it)."""
        if not self._turn.acquire(timeout=budget):
            return False
        try:
            if self.stuck:
                return False
            self._current = call
            self._calls.put(call)
            return call.wait(budget)
        finally:
            self._turn.release()

    def _loop(self) -> None:
        while True:
            self._calls.get().run()


class HookGuard:
    """Budget, breakers and lanes of one process's plugin manager."""

    def __init__(self, budget: float = 5.0, backoff: float = 60.0,
                 board: BreakerBoard | None = None) -> None:
        self.budget = budget
        self.board = board or BreakerBoard(None, backoff)
        self._lanes: dict[str, PluginLane] = {}
        self._lock = threading.Lock()
        self._told: dict[str, float] = {}  # breakers this process has logged

    # --- installation ----------------------------------------------------------------

    def install(self, pm: pluggy.PluginManager, plugin: object, plugin_name: str) -> None:
        """Guard ``plugin``'s implementations of the guarded hooks, inside pluggy's call."""
        for caller in pm.get_hookcallers(plugin) or []:
            if caller.name not in GUARDED_HOOKS:
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not getattr(impl.function, _GUARDED, False):
                    guarded = self._guarded(impl.function, plugin_name, caller.name,
                                            wrapper=impl.wrapper)
                    setattr(guarded, _GUARDED, True)
                    setattr(guarded, _BUILTIN, _is_builtin(impl.function))
                    impl.function = guarded  # type: ignore[misc]  # pluggy reads it per call

    def _guarded(self, function: Callable[..., Any], plugin: str, hook: str,
                 wrapper: bool) -> Callable[..., Any]:
        builtin = _is_builtin(function)
        if wrapper:
            def guarded_wrapper(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
                return (yield from self._wrap(plugin, hook, function, args, kwargs, builtin))
            return guarded_wrapper

        def guarded(*args: Any, **kwargs: Any) -> Any:
            ok, value = self.call(plugin, hook, lambda: function(*args, **kwargs), builtin,
                                  implementation=function)
            return value if ok else None
        return guarded

    # --- calling ---------------------------------------------------------------------

    def call(self, plugin: str, hook: str, function: Callable[[], Any],
             builtin: bool = False,
             implementation: Callable[..., Any] | None = None) -> tuple[bool, Any]:
        """Run one step of a plugin's implementation; (False, None) when it raised, overran
        or was skipped. Never raises (but KeyboardInterrupt/SystemExit of a built-in)."""
        name = f"{plugin}:{hook}"
        if builtin:
            try:
                return True, function()
            except Exception as exc:
                _log_raised(name, exc, implementation)
                return False, None
        state = self.board.state(plugin)
        if state is not None and state.is_open():
            if self._told.get(plugin) != state.opened_at:  # once per process and opening
                self._told[plugin] = state.opened_at
                log.warning("plugin %s skipped: %s", name, state.describe())
            return False, None
        lane = self._lane(plugin)
        if lane.stuck:
            log.debug("plugin %s skipped: still inside an earlier call", name)
            return False, None
        call = _Call(function)
        if not lane.run(call, self.budget):
            state = self.board.trip(plugin, hook, f"did not return within {self.budget:g}s")
            self._told[plugin] = state.opened_at
            log.warning("plugin %s did not return within %.1fs; going on without it, and "
                        "skipping the plugin for %.0fs", name, self.budget,
                        state.open_until - state.opened_at)
            return False, None
        if call.error is not None:
            _log_raised(name, call.error, implementation)
            return False, None
        self.board.close(plugin)
        return True, call.value

    def _wrap(self, plugin: str, hook: str, function: Callable[..., Any],
              args: tuple[Any, ...], kwargs: dict[str, Any],
              builtin: bool) -> Generator[None, Any, Any]:
        """A new-style wrapper, with its code before and after ``yield`` guarded."""
        def setup() -> Generator[None, Any, Any]:
            generator = function(*args, **kwargs)
            next(generator)
            return generator

        ok, generator = self.call(plugin, hook, setup, builtin, implementation=function)
        result = yield  # the inner implementations (each guarded) never raise
        if not ok:
            return result

        def teardown() -> Any:
            try:
                generator.send(result)
            except StopIteration as stop:
                return stop.value
            generator.close()
            raise RuntimeError("the wrapper yielded twice")

        ok, value = self.call(plugin, hook, teardown, builtin, implementation=function)
        return value if ok else result

    def _lane(self, plugin: str) -> PluginLane:
        with self._lock:
            lane = self._lanes.get(plugin)
            if lane is None or lane.pid != os.getpid():  # none yet, or inherited by fork
                lane = self._lanes[plugin] = PluginLane(plugin)
            return lane

    def thread_count(self) -> int:
        """Lanes started in this process (at most one per third-party plugin)."""
        return sum(1 for lane in self._lanes.values() if lane.pid == os.getpid())


def _log_raised(name: str, exc: BaseException,
                implementation: Callable[..., Any] | None) -> None:
    """One line naming the plugin, the error and the line of the plugin's code that was
    running (its implementation's file first: a library it called may have raised); the
    traceback too when the log is verbose (``-v``)."""
    code = getattr(implementation, "__code__", None)
    where = raise_site(exc, (code.co_filename,) if code is not None else ())
    log.error("plugin %s raised %s: %s%s", name, type(exc).__name__, exc,
              f" at {where}" if where else "",
              exc_info=exc if log.isEnabledFor(logging.INFO) else None)
