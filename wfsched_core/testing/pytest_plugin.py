"""The pytest plugin of the testing kit (the ``pytest11`` entry point ``wfsched``).

Fixtures:

- ``wfsched_home``: a temporary ``WFSCHED_HOME`` with its own SQLite database and an
  empty ``wfsched.toml`` of its own (the environment points at them for the test), so a
  test never touches the user's ``~/.wfsched`` nor a ``wfsched.toml`` in the folder.
- ``wfsched_plugins``: a :class:`~wfsched_core.testing.TestPlugins` for the test:
  ``add_workflow(cls)``, ``add_plugin(module_or_object)``, registered without installing.
- ``wfsched_run``: ``wfsched_run(workflow, params, count=1)`` queues executions and runs a
  ``wfsched scheduler --once`` in the test's process with those plugins; returns every
  execution as a :class:`~wfsched_core.testing.WorkflowRun`.

Loaded by pytest in every run where wfsched-core is installed, so this module imports
only pytest and what it needs to declare the fixtures; the kit itself is imported when a
test asks for a fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from wfsched_core.testing import TestPlugins, WorkflowRun


@dataclass(frozen=True)
class WfschedHome:
    """The test's home: where its database, logs and ``wfsched.toml`` are."""

    path: Path
    config_path: Path

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.path / 'wfsched.db'}"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    def write_config(self, text: str) -> Path:
        """Replace the test's ``wfsched.toml`` with ``text`` (TOML)."""
        self.config_path.write_text(text, encoding="utf-8")
        return self.config_path


@pytest.fixture
def wfsched_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WfschedHome:
    """A temporary ``WFSCHED_HOME`` with its own database and config file."""
    path = tmp_path / "wfsched-home"
    path.mkdir()
    home = WfschedHome(path, path / "wfsched.toml")
    home.config_path.write_text("", encoding="utf-8")
    monkeypatch.setenv("WFSCHED_HOME", str(path))
    monkeypatch.setenv("WFSCHED_CONFIG", str(home.config_path))
    for variable in ("WFSCHED_DATABASE_URL", "WFSCHED_DISABLE_PLUGINS", "WFSCHED_OWNER",
                     "WFSCHED_WORKER_PLAN", "WFSCHED_LOG_CAPTURED"):
        monkeypatch.delenv(variable, raising=False)
    return home


@pytest.fixture
def wfsched_plugins() -> TestPlugins:
    """Workflow classes and plugins registered for this test, without installing them."""
    from wfsched_core.testing import TestPlugins

    return TestPlugins()


RunFunction = Callable[..., "list[WorkflowRun]"]


@pytest.fixture
def wfsched_run(wfsched_home: WfschedHome, wfsched_plugins: TestPlugins) -> Iterator[RunFunction]:
    """``wfsched_run(workflow=None, params=None, *, count=1, max_concurrent=None,
    spawner=None, wait_held=0.0)``: queue ``count`` executions of ``workflow`` (a class,
    registered for the test, or a name), run a ``--once`` scheduler, return every
    execution of the test's database, oldest first. Call it with no workflow to run what
    is already queued (or queue several first with ``wfsched_run.queue(...)``)."""
    from wfsched_core.testing.scheduler_run import run_scheduler_once

    queued: list[tuple[Any, Mapping[str, Any] | None]] = []

    def queue(workflow: type | str, params: Mapping[str, Any] | None = None, *,
              count: int = 1) -> None:
        queued.extend([(workflow, params)] * count)

    def run(workflow: type | str | None = None, params: Mapping[str, Any] | None = None, *,
            count: int = 1, max_concurrent: int | None = None, spawner: str | None = None,
            wait_held: float = 0.0) -> list[WorkflowRun]:
        if workflow is not None:
            queue(workflow, params, count=count)
        triggers = list(queued)
        queued.clear()
        return run_scheduler_once(wfsched_plugins, triggers, max_concurrent=max_concurrent,
                                  spawner=spawner, wait_held=wait_held)

    run.queue = queue  # type: ignore[attr-defined]
    yield run
