"""``run_workflow``: one execution, in this process, through the worker's own step runner.

No install, no scheduler, no subprocess: the workflow class (or an installed workflow, by
name) runs against a throwaway SQLite store in a temporary home, exactly as a worker run
by ``wfsched execute`` would run it (``worker/direct.py``: the same runner, the same
records, the same lifecycle events for the plugins registered), so what a test sees is
what ``wfsched executions show`` would show. What only a scheduler does is not done here:
a failed run's retry is queued but not run, ``timeout`` is not enforced, and ``nice`` is
not applied (it could not be undone in the test's process).
"""

from __future__ import annotations

import signal
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfsched_core.base.config import Settings
from wfsched_core.testing.plugins import TestPlugins
from wfsched_core.testing.results import WorkflowRun

if TYPE_CHECKING:
    from wfsched_core.app import App

# How long a run waits for its lifecycle events to reach the test's plugins.
EVENT_FLUSH_SECONDS = 5.0


def run_workflow(workflow: type | str, params: Mapping[str, Any] | None = None, *,
                 upstream: Mapping[str, Mapping[str, Any]] | None = None,
                 plugins: TestPlugins | Iterable[Any] | None = None,
                 config: Mapping[str, Any] | None = None,
                 home: str | Path | None = None) -> WorkflowRun:
    """Run one execution of ``workflow`` to its end and return what happened.

    ``workflow``: a :class:`~wfsched_core.Workflow` subclass (registered for this run
    only) or the name of an installed workflow. ``params``: what ``ctx.params`` holds.
    ``upstream``: results of upstream runs by workflow name, each ``{step: result}``, as
    ``ctx.upstream[name].results`` (to test a workflow that ``depends_on`` others).
    ``plugins``: a :class:`TestPlugins`, or plugin objects (modules or instances),
    registered for this run (a notifier sees its events). ``config``: the contents of a
    ``wfsched.toml`` (``{"workflows": {"name": {"retries": 2}}}``, a plugin's table).
    ``home``: keep the home (database, logs) there instead of a temporary directory.
    """
    registered = _test_plugins(plugins)
    name = registered.add_workflow(workflow) if isinstance(workflow, type) else workflow
    for upstream_name in upstream or {}:
        registered.add_stand_in(upstream_name)
    if home is not None:
        return _run_in(Path(home), name, params, upstream, registered, config)
    with tempfile.TemporaryDirectory(prefix="wfsched-run-") as temporary:
        return _run_in(Path(temporary), name, params, upstream, registered, config)


def _test_plugins(plugins: TestPlugins | Iterable[Any] | None) -> TestPlugins:
    if isinstance(plugins, TestPlugins):
        return plugins
    registered = TestPlugins()
    for plugin in plugins or ():
        registered.add_plugin(plugin)
    return registered


def _run_in(home: Path, name: str, params: Mapping[str, Any] | None,
            upstream: Mapping[str, Mapping[str, Any]] | None, plugins: TestPlugins,
            config: Mapping[str, Any] | None) -> WorkflowRun:
    from wfsched_core.app import App

    home.mkdir(parents=True, exist_ok=True)
    app = App(extra_plugins=plugins.extra_plugins())
    app.settings = Settings(home=home, database_url=f"sqlite:///{home / 'wfsched.db'}",
                            data=dict(config or {}))
    app.creates_database = True
    try:
        execution_id = queue_execution(app, name, params)
        _run_steps(app, execution_id, upstream)
        app.hooks.flush(EVENT_FLUSH_SECONDS)
        return WorkflowRun.from_records(app.store.get_execution(execution_id),
                                        app.store.steps(execution_id), app.settings.logs_dir)
    finally:
        if "store" in vars(app):
            app.store.dispose()


def queue_execution(app: App, name: str, params: Mapping[str, Any] | None) -> int:
    """Queue one pending execution of ``name`` as ``wfsched trigger`` does; its id.
    An unknown or broken workflow is an UnknownWorkflowError saying why."""
    from wfsched_core.base.status import Trigger

    spec = app.hooks.catalog().get(name)
    (execution,) = app.store.enqueue(name, params=dict(params or {}), priority=spec.priority,
                                     trigger=Trigger.MANUAL, queue=spec.queue)
    app.hooks.execution_queued(execution)
    return execution.id


def _run_steps(app: App, execution_id: int,
               upstream: Mapping[str, Mapping[str, Any]] | None) -> None:
    """The worker's runner on this thread, with this process's signal handlers put back
    afterwards (the runner sets its own, and ignores stop signals while it records)."""
    from wfsched_core.worker.runner import run_with

    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("run_workflow must be called from the main thread (the step "
                           "runner handles SIGTERM and SIGINT as a worker does)")
    reporter = _reporter_class()(execution_id, app.store, app.hooks)
    reporter.upstream = upstream
    catalog = app.hooks.catalog()
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        run_with(reporter, lambda workflow: replace(catalog.get(workflow), nice=None),
                 app.settings.logs_dir, float(app.settings.scheduler_option("heartbeat_interval")))
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def _upstream_records(upstream: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    from types import MappingProxyType

    from wfsched_core.base.records import Upstream, upstream_mapping

    return upstream_mapping(Upstream(0, name, "completed", MappingProxyType(dict(results)))
                            for name, results in upstream.items())


def _reporter_class() -> type:
    from wfsched_core.worker.direct import DirectReporter

    class Reporter(DirectReporter):
        """The direct reporter, with the upstream runs a test gave in ``ctx.upstream``."""

        upstream: Mapping[str, Mapping[str, Any]] | None = None

        def start(self, first_step: Any) -> Any:
            execution, step = super().start(first_step)
            if self.upstream:
                execution = replace(execution, upstream=_upstream_records(self.upstream))
                self.execution = execution
            return execution, step

    return Reporter
