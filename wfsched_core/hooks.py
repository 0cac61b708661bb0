"""A typed facade over ``pm.hook``: the only place the core calls hooks.

Lifecycle events and admission are called one plugin at a time, each in a helper thread
with a time budget, so a notifier that raises or hangs never fails or blocks an
execution (one thread runs the calls in turn; one that overruns leaves it behind). The
core's own built-in plugins (which never block: they log, count or send one datagram)
are called directly, still guarded against errors: a thread start and join for each of
them was a measurable share of a short execution's cost (issue 8).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from typing import TYPE_CHECKING, Any

from wfsched_core.errors import ConfigError, DatabaseError, WfschedError

if TYPE_CHECKING:
    import click

    from wfsched_core.catalog import Catalog
    from wfsched_core.config import Settings
    from wfsched_core.plugin_manager import WfschedPluginManager
    from wfsched_core.records import Execution, SchedulerRow, StepRecord
    from wfsched_core.spawning import SpawnerFactory
    from wfsched_core.store import SqlStore
    from wfsched_core.workflow import WorkflowSpec

log = logging.getLogger(__name__)

# Hook implementations defined here are the core's own built-ins: called without a thread.
_BUILTIN_PREFIX = "wfsched_core.builtin."


class PluginHooks:
    """Call sites of every hook, typed, guarded where a plugin must not do harm."""

    def __init__(self, pm: WfschedPluginManager, settings: Settings) -> None:
        self.pm = pm
        self.settings = settings
        self.budget = float(settings.scheduler_option("notify_budget"))
        self._catalog: Catalog | None = None
        self._hook_runner: _HookRunner | None = None

    # configuration
    def configure(self) -> None:
        """Let each plugin validate its table; a ConfigError stops the command."""
        for impl in self.pm.hook.wfsched_configure.get_hookimpls():
            try:
                impl.function(self.settings)
            except WfschedError:
                raise
            except Exception as exc:
                raise ConfigError(f"plugin {impl.plugin_name}: {exc}")

    # discovery
    def catalog(self) -> Catalog:
        """The workflows announced by every plugin (built once per process)."""
        if self._catalog is None:
            from wfsched_core.catalog import WorkflowRegistrar

            registrar = WorkflowRegistrar(self.settings)
            for impl in reversed(self.pm.hook.wfsched_workflows.get_hookimpls()):
                registrar.current_plugin = impl.plugin_name
                try:
                    impl.function(registrar)
                except Exception as exc:
                    log.error("plugin %s failed to list workflows: %s", impl.plugin_name, exc)
            self._catalog = registrar.build()
        return self._catalog

    # spawning
    def spawner_factories(self) -> dict[str, SpawnerFactory]:
        from wfsched_core.spawning import SpawnerRegistrar

        registrar = SpawnerRegistrar()
        for impl in reversed(self.pm.hook.wfsched_spawners.get_hookimpls()):
            registrar.current_plugin = impl.plugin_name
            try:
                impl.function(registrar)
            except Exception as exc:
                log.error("plugin %s failed to list spawners: %s", impl.plugin_name, exc)
        return registrar.factories

    # storage
    def store(self, url: str | None = None) -> SqlStore:
        store = self.pm.hook.wfsched_store(url=url or self.settings.database_url,
                                           settings=self.settings)
        if store is None:
            raise DatabaseError(f"no installed plugin provides a store for {url!r}")
        return store

    # admission
    def admission_reason(self, execution: Execution, spec: WorkflowSpec | None) -> str | None:
        """The first reason a plugin gives to hold ``execution`` back, or None to admit."""
        for impl in self.pm.hook.wfsched_admit.get_hookimpls():
            reason = self._call_guarded(impl, {"execution": execution, "spec": spec})
            if reason:
                return str(reason)
        return None

    # command line
    def add_cli_commands(self, cli: click.Group) -> None:
        for impl in self.pm.hook.wfsched_cli_commands.get_hookimpls():
            before = dict(cli.commands)
            try:
                impl.function(cli)
            except Exception as exc:
                log.error("plugin %s failed to add commands: %s", impl.plugin_name, exc)
            for name in before:
                if cli.commands.get(name) is not before[name]:
                    log.error("plugin %s tried to replace command %r; kept the original",
                              impl.plugin_name, name)
                    cli.commands[name] = before[name]

    # lifecycle events
    def execution_queued(self, execution: Execution) -> None:
        self._fire("wfsched_execution_queued", execution=execution)

    def execution_started(self, execution: Execution) -> None:
        self._fire("wfsched_execution_started", execution=execution)

    def step_finished(self, execution: Execution, step: StepRecord) -> None:
        self._fire("wfsched_step_finished", execution=execution, step=step)

    def execution_completed(self, execution: Execution) -> None:
        self._fire("wfsched_execution_completed", execution=execution)

    def execution_failed(self, execution: Execution, will_retry: bool) -> None:
        self._fire("wfsched_execution_failed", execution=execution, will_retry=will_retry)

    def execution_cancelled(self, execution: Execution) -> None:
        self._fire("wfsched_execution_cancelled", execution=execution)

    def execution_timed_out(self, execution: Execution, will_retry: bool) -> None:
        self._fire("wfsched_execution_timed_out", execution=execution, will_retry=will_retry)

    def scheduler_started(self, scheduler: SchedulerRow) -> None:
        self._fire("wfsched_scheduler_started", scheduler=scheduler)

    def scheduler_stopping(self, scheduler: SchedulerRow, reason: str) -> None:
        self._fire("wfsched_scheduler_stopping", scheduler=scheduler, reason=reason)

    def scheduler_tick(self, scheduler: SchedulerRow, running: int, pending: int,
                       max_concurrent: int) -> None:
        self._fire("wfsched_scheduler_tick", scheduler=scheduler, running=running,
                   pending=pending, max_concurrent=max_concurrent)

    # notification delivery
    def notify_report(self, wait: float) -> list[dict[str, Any]]:
        """Every notifier's destinations and outcomes, for ``notify list`` and ``notify test``."""
        report: list[dict[str, Any]] = []
        for impl in self.pm.hook.wfsched_notify_report.get_hookimpls():
            try:
                report.extend(impl.function(*[wait for _ in impl.argnames]) or [])
            except Exception as exc:  # a broken notifier is reported, not fatal
                log.error("plugin %s failed to report: %s", impl.plugin_name, exc)
                report.append({"notifier": impl.plugin_name, "target": "", "events": [],
                               "workflows": None, "ok": False,
                               "detail": f"{type(exc).__name__}: {exc}"})
        return report

    def _fire(self, hook_name: str, **kwargs: Any) -> None:
        if "execution" in kwargs:  # notifiers and other plugins see secrets masked
            kwargs["execution"] = self._secrets_masked(kwargs["execution"])
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            self._call_guarded(impl, kwargs)

    def _secrets_masked(self, execution: Execution) -> Execution:
        from wfsched_core.secrets import masked_execution, secret_names

        if not execution.params:
            return execution
        return masked_execution(execution, secret_names(self.catalog(), execution.workflow))

    def _call_guarded(self, impl: Any, kwargs: dict[str, Any]) -> Any:
        """Call one hook implementation (a plugin's in the helper thread, with the budget);
        log errors and overruns, never raise."""
        args = [kwargs[name] for name in impl.argnames]
        name = f"{impl.plugin_name}:{impl.function.__name__}"
        if impl.function.__module__.startswith(_BUILTIN_PREFIX):
            try:
                return impl.function(*args)
            except Exception as exc:
                log.error("plugin %s raised %s: %s", name, type(exc).__name__, exc)
                return None
        call = _GuardedCall(impl.function, args)
        if not self._runner().run(call, self.budget):
            self._hook_runner = None  # stuck in that call: the next gets a new thread
            log.warning("plugin %s did not return within %.1fs; going on without it",
                        name, self.budget)
            return None
        if call.error is not None:
            log.error("plugin %s raised %s: %s", name, type(call.error).__name__, call.error)
            return None
        return call.value

    def _runner(self) -> _HookRunner:
        runner = self._hook_runner
        if runner is None or runner.pid != os.getpid():  # none yet, stuck, or forked
            runner = self._hook_runner = _HookRunner()
        return runner


class _GuardedCall:
    """One hook call handed to the runner thread, and its outcome."""

    __slots__ = ("args", "done", "error", "function", "value")

    def __init__(self, function: Any, args: list[Any]) -> None:
        self.function = function
        self.args = args
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.function(*self.args)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = exc
        finally:
            self.done.set()


class _HookRunner:
    """A thread that runs guarded hook calls one after another, so that a call costs a
    hand-over rather than a thread start. A call that overruns its budget keeps this
    thread; the caller retires it and starts another."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._calls: queue.SimpleQueue[_GuardedCall | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="wfsched-hooks", daemon=True)
        self._thread.start()

    def run(self, call: _GuardedCall, budget: float) -> bool:
        """Run ``call``; False when it did not finish within ``budget`` seconds."""
        self._calls.put(call)
        if call.done.wait(budget):
            return True
        self._calls.put(None)  # retired: it exits once the stuck call returns
        return False

    def _loop(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                return
            call.run()
