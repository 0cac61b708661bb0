"""An in-process scheduler with an injected clock, over a real store and real workers.

For policies whose trigger is time (cron ticks, catch-up after downtime): the test moves
the clock instead of sleeping for minutes. Workers are still real processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from helpers import TEST_CONFIG, wait_until

from wfsched_core.base.config import load_settings
from wfsched_core.framework.hooks import PluginHooks
from wfsched_core.framework.plugin_manager import get_plugin_manager
from wfsched_core.scheduler import Scheduler, SchedulerOptions
from wfsched_core.store import SqlStore


class FakeClock:
    """A clock the test moves by hand (naive UTC, like every stored timestamp)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def make_scheduler(monkeypatch: Any, home: Path, database_url: str, python_path: Path,
                   config: str = "", clock: Any = None, extra_plugins: tuple = (),
                   disable: str = "", prepared: bool = True, store_from_hooks: bool = False,
                   **options: Any) -> Scheduler:
    """A Scheduler wired like ``wfsched scheduler`` would be, in this process (prepared
    and registered, for driving its loop by hand; or not, for ``run()``). The store is a
    ``SqlStore`` of ``database_url``, or with ``store_from_hooks`` what the ``wfsched_store``
    hook gives (as the command does: a plugin's store first)."""
    (home / "wfsched.toml").write_text(TEST_CONFIG + "\n" + config)
    monkeypatch.setenv("WFSCHED_HOME", str(home))
    monkeypatch.setenv("WFSCHED_CONFIG", str(home / "wfsched.toml"))
    monkeypatch.setenv("WFSCHED_DISABLE_PLUGINS", disable)
    monkeypatch.setenv("PYTHONPATH", str(python_path))
    monkeypatch.delenv("WFSCHED_DATABASE_URL", raising=False)
    monkeypatch.syspath_prepend(str(python_path))  # entry points of the test workflows
    settings = load_settings(database_url=database_url)
    hooks = PluginHooks(get_plugin_manager(settings, extra_plugins=extra_plugins), settings)
    hooks.configure()
    store = hooks.store() if store_from_hooks else SqlStore(database_url)
    store.ensure_schema(auto_create=True)
    opts = SchedulerOptions.from_settings(settings, **options)
    scheduler = Scheduler(store, hooks, settings, opts, clock=clock)
    if prepared:
        scheduler.prepare()
        scheduler._register()
    return scheduler


def tick_until(scheduler: Scheduler, predicate: Any, timeout: float, message: str) -> Any:
    """Run loop iterations (without sleeping past the poll interval) until ``predicate``."""
    def step() -> Any:
        scheduler._tick()
        scheduler._wake.wait(0.05)
        scheduler._wake.clear()
        return predicate()

    return wait_until(step, timeout, message, interval=0)


def stop(scheduler: Scheduler) -> None:
    for tracked in list(scheduler.tracked.values()):
        if tracked.spawner is not None:
            tracked.spawner.stop(tracked.handle, 2)
    scheduler._reap()
    scheduler._unregister()
    scheduler.store.dispose()
