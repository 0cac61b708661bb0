"""A typed facade over ``pm.hook``: the only place the core calls hooks.

Lifecycle events and admission are called through pluggy (its order, ``tryfirst`` /
``trylast``, wrappers around), with wfsched's guard installed inside that call on each
implementation (:mod:`wfsched_core.framework.hook_guard`): a plugin that raises or hangs never fails
or blocks an execution, and one that overran its budget is skipped for a while. Lifecycle
events are delivered from this process's queue (:mod:`wfsched_core.framework.event_queue`), off the
path of the code that fires them; in a process where no plugin implements any lifecycle
hook, the built-ins (which log, count or send one datagram) are called in place instead,
as a hand-over to a thread was a measurable share of a short execution's cost (issue 8).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import ConfigError, DatabaseError, WfschedError
from wfsched_core.framework.event_queue import EventQueue
from wfsched_core.framework.hook_guard import is_third_party
from wfsched_core.framework.hookspecs import LIFECYCLE_HOOKS

if TYPE_CHECKING:
    import click

    from wfsched_core.authoring.catalog import Catalog
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.config import Settings
    from wfsched_core.base.records import Execution, SchedulerRow, StepRecord
    from wfsched_core.framework.plugin_manager import WfschedPluginManager
    from wfsched_core.framework.spawning import SpawnerFactory
    from wfsched_core.store.contract import Store

log = logging.getLogger(__name__)

# How long firing an event waits for its delivery: plugins that answer at once have it
# before the caller goes on (a worker's ``started`` is out before its first step, which may
# crash the process); a slow or hung plugin costs the caller no more than this.
HANDOFF = 0.5


class PluginHooks:
    """Call sites of every hook, typed, guarded where a plugin must not do harm."""

    def __init__(self, pm: WfschedPluginManager, settings: Settings) -> None:
        self.pm = pm
        self.settings = settings
        self.budget = pm.guard.budget
        self._catalog: Catalog | None = None
        # no plugin implements a lifecycle hook: the built-ins are called in place (known
        # at the first event; plugins are all registered by then)
        self._only_builtins: bool | None = None
        # at exit: one budget for a plugin that hangs (then its breaker skips it), a margin;
        # the firing code waits for the hand-over at most HANDOFF (or the budget if less)
        self.events = EventQueue(self._deliver, exit_bound=self.budget + 1.0,
                                 handoff=min(HANDOFF, self.budget))

    # configuration
    def configure(self) -> None:
        """Let each plugin validate its table; a ConfigError stops the command."""
        for impl in reversed(self.pm.hook.wfsched_configure.get_hookimpls()):
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
            from wfsched_core.authoring.catalog import WorkflowRegistrar

            registrar = WorkflowRegistrar(self.settings)
            infos = getattr(self.pm, "infos", {})
            for impl in reversed(self.pm.hook.wfsched_workflows.get_hookimpls()):
                registrar.current_plugin = impl.plugin_name
                info = infos.get(impl.plugin_name)
                registrar.current_distribution = info.distribution if info else None
                try:
                    impl.function(registrar)
                except Exception as exc:
                    log.error("plugin %s failed to list workflows: %s", impl.plugin_name, exc)
            self._catalog = registrar.build()
        return self._catalog

    # spawning
    def spawner_factories(self) -> dict[str, SpawnerFactory]:
        from wfsched_core.framework.spawning import SpawnerRegistrar

        registrar = SpawnerRegistrar()
        for impl in reversed(self.pm.hook.wfsched_spawners.get_hookimpls()):
            registrar.current_plugin = impl.plugin_name
            try:
                impl.function(registrar)
            except Exception as exc:
                log.error("plugin %s failed to list spawners: %s", impl.plugin_name, exc)
        return registrar.factories

    # storage
    def store(self, url: str | None = None) -> Store:
        store = self.pm.hook.wfsched_store(url=url or self.settings.database_url,
                                           settings=self.settings)
        if store is None:
            raise DatabaseError(f"no installed plugin provides a store for {url!r}")
        return store

    # admission
    def admission_may_hold(self, specs: Iterable[WorkflowSpec]) -> bool:
        """Whether any admission implementation could hold an execution of ``specs``
        back: a plugin's may always; a built-in only if it says so (``may_hold``). When
        none could, the scheduler does not ask (a read of the candidates per tick)."""
        for impl in self.pm.hook.wfsched_admit.get_hookimpls():
            may_hold = getattr(impl.plugin, "may_hold", None)
            if not is_third_party(impl) and may_hold is not None and not may_hold(specs):
                continue
            return True
        return False

    def admission_reason(self, execution: Execution, spec: WorkflowSpec | None) -> str | None:
        """The first reason a plugin gives to hold ``execution`` back, or None to admit."""
        try:
            reasons = self.pm.hook.wfsched_admit(execution=execution, spec=spec)
        except Exception as exc:  # a wrapper broke the call itself: admit, say why
            log.error("admission hooks failed: %s: %s", type(exc).__name__, exc)
            return None
        return next((str(reason) for reason in reasons or () if reason), None)

    # workers
    def worker_environment(self, execution: Execution, spawner: str) -> dict[str, str]:
        """The variables plugins add to the environment of ``execution``'s worker (the
        first plugin in pluggy's order wins a name); a broken call adds nothing."""
        if not self.pm.hook.wfsched_worker_environment.get_hookimpls():
            return {}  # the usual case: nothing to call, no lane to hand over to
        try:
            results = self.pm.hook.wfsched_worker_environment(execution=execution,
                                                              spawner=spawner)
        except Exception as exc:  # a wrapper broke the call itself: start it without
            log.error("worker environment hooks failed: %s: %s", type(exc).__name__, exc)
            return {}
        merged: dict[str, str] = {}
        for variables in reversed(results or []):
            merged.update({str(k): str(v) for k, v in (variables or {}).items()})
        return merged

    # command line
    def add_cli_commands(self, cli: click.Group) -> None:
        for impl in reversed(self.pm.hook.wfsched_cli_commands.get_hookimpls()):
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

    def execution_waiting(self, execution: Execution) -> None:
        self._fire("wfsched_execution_waiting", execution=execution)

    def execution_overdue(self, execution: Execution, deadline: float) -> None:
        self._fire("wfsched_execution_overdue", execution=execution, deadline=deadline)

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
        started = time.monotonic()
        self.flush(wait)  # the events this process fired, handed to the notifiers first
        wait = max(0.0, wait - (time.monotonic() - started))
        report: list[dict[str, Any]] = []
        for impl in reversed(self.pm.hook.wfsched_notify_report.get_hookimpls()):
            try:
                report.extend(impl.function(*[wait for _ in impl.argnames])  # type: ignore[arg-type]
                              or [])
            except Exception as exc:  # a broken notifier is reported, not fatal
                log.error("plugin %s failed to report: %s", impl.plugin_name, exc)
                report.append({"notifier": impl.plugin_name, "target": "", "events": [],
                               "workflows": None, "ok": False,
                               "detail": f"{type(exc).__name__}: {exc}"})
        return report

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for this process's queued events to be delivered;
        return how many are still waiting (0 when all were)."""
        return self.events.flush(timeout)

    def _fire(self, hook_name: str, **kwargs: Any) -> None:
        if "execution" in kwargs:  # notifiers and other plugins see secrets masked
            kwargs["execution"] = self._secrets_masked(kwargs["execution"])
        if self._only_builtins is None:
            self._only_builtins = not any(
                is_third_party(impl) for name in LIFECYCLE_HOOKS
                for impl in getattr(self.pm.hook, name).get_hookimpls())
        if self._only_builtins:
            self._deliver(hook_name, kwargs)  # no hand-over to pay (issue 8)
        else:
            self.events.put(hook_name, kwargs)

    def _deliver(self, hook_name: str, kwargs: dict[str, Any]) -> None:
        """Called by the event queue's thread: one pluggy call, each plugin guarded."""
        getattr(self.pm.hook, hook_name)(**kwargs)

    def _secrets_masked(self, execution: Execution) -> Execution:
        from wfsched_core.authoring.secrets import masked_execution, secret_names

        if not execution.params:
            return execution
        return masked_execution(execution, secret_names(self.catalog(), execution.workflow))
