"""``wfsched_run``: trigger executions, then a ``wfsched scheduler --once`` in this process.

The scheduler is the real one (claims, the spawner, a worker process per execution, the
fork server, retries, dependents, admission, the lifecycle events), run in the test's
process with the test's plugins registered; it returns when nothing is left to run, as
``--once`` does. Each execution's worker is a separate process that imports its workflow
class by module and name: a test's workflow class must be defined at a module's top level
(a test module is fine: the test's ``sys.path`` is handed to the workers).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from wfsched_core.testing.plugins import TestPlugins
from wfsched_core.testing.results import WorkflowRun

# What a test's scheduler polls at when idle (retries' backoffs, held work): short, so
# that a test does not wait for the default 2 s.
TEST_POLL_INTERVAL = 0.1


def run_scheduler_once(plugins: TestPlugins,
                       triggers: Iterable[tuple[type | str, Mapping[str, Any] | None]], *,
                       max_concurrent: int | None = None, spawner: str | None = None,
                       wait_held: float = 0.0) -> list[WorkflowRun]:
    """Queue each ``(workflow, params)`` of ``triggers``, run a ``--once`` scheduler until
    nothing can run, and return every execution of the database, oldest first (what was
    triggered, and the retries and dependents queued meanwhile)."""
    from wfsched_core.app import App
    from wfsched_core.scheduler import Scheduler, SchedulerOptions
    from wfsched_core.testing.run import EVENT_FLUSH_SECONDS, queue_execution

    names = [(_name_of(plugins, workflow), params) for workflow, params in triggers]
    _check_importable(plugins)
    app = App(extra_plugins=plugins.extra_plugins())
    app.creates_database = True
    try:
        for name, params in names:
            queue_execution(app, name, params)  # builds this process's plugins first
        options = SchedulerOptions.from_settings(
            app.settings, once=True, max_concurrent=max_concurrent, spawner=spawner,
            poll_interval=min(TEST_POLL_INTERVAL,
                              float(app.settings.scheduler_option("poll_interval"))),
            wait_held=wait_held)
        with _workers_see(plugins):
            Scheduler(app.store, app.hooks, app.settings, options).run()
        app.hooks.flush(EVENT_FLUSH_SECONDS)
        return [WorkflowRun.from_records(execution, app.store.steps(execution.id),
                                         app.settings.logs_dir)
                for execution in sorted(app.store.list_executions(limit=1_000_000),
                                        key=lambda e: e.id)]
    finally:
        if "store" in vars(app):
            app.store.dispose()


def _name_of(plugins: TestPlugins, workflow: type | str) -> str:
    return plugins.add_workflow(workflow) if isinstance(workflow, type) else workflow


def _check_importable(plugins: TestPlugins) -> None:
    from wfsched_core.worker.plan import class_target

    for name, cls in plugins.workflows.items():
        if class_target(cls) is None:
            raise ValueError(
                f"workflow {name!r} ({cls.__qualname__}) is defined inside a function or in "
                "__main__: a worker process cannot import it; define it at the top level of "
                "a module (run_workflow runs it in this process, without that limit)")


class _workers_see:  # noqa: N801 - used as a context manager, like a function
    """The environment of the scheduler's children while it runs: PYTHONPATH set to this
    process's ``sys.path``, so that its workers (and the fork server) import what the test
    imported (the test module, from wherever pytest put it); and the test's workflows and
    importable plugins named for a worker that builds its own plugin manager
    (``wfsched execute``, see ``env_plugins.py``)."""

    def __init__(self, plugins: TestPlugins) -> None:
        import json

        from wfsched_core.framework.plugin_manager import ENV_EXTRA_PLUGINS
        from wfsched_core.testing.env_plugins import ENV_TEST_WORKFLOWS
        from wfsched_core.worker.plan import class_target

        entries = [p for p in sys.path if p and os.path.isdir(p)]
        if os.environ.get("PYTHONPATH"):
            entries.append(os.environ["PYTHONPATH"])
        references = ["test.workflows=wfsched_core.testing.env_plugins"]
        for name, plugin in plugins.plugins.items():
            reference = plugin.__name__ if isinstance(plugin, ModuleType) \
                else class_target(type(plugin))
            if reference:
                references.append(f"{name}={reference}")
        self.values = {
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(entries)),
            ENV_EXTRA_PLUGINS: ",".join(references),
            ENV_TEST_WORKFLOWS: json.dumps({name: class_target(cls) for name, cls
                                            in plugins.workflows.items()}),
        }

    def __enter__(self) -> None:
        self.saved = {key: os.environ.get(key) for key in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
