"""Workflow classes and plugin objects registered for a test, without installing them.

What an installed package announces through entry points (``wfsched.workflows``,
``wfsched.plugins``), a test hands to :class:`TestPlugins`; the kit passes them to the
plugin manager as its ``extra_plugins`` (``framework/plugin_manager.py``), registered
after the built-ins and before the installed plugins, each shown in ``plugins list`` with
the source ``test``.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import TYPE_CHECKING, Any

from wfsched_core.framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from wfsched_core.authoring.catalog import WorkflowRegistrar


def default_workflow_name(cls: type) -> str:
    """``cls.name`` if it sets one, else its class name in snake case
    (``NightlyReport`` -> ``nightly_report``)."""
    explicit = getattr(cls, "name", None)
    if explicit:
        return str(explicit)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls.__name__).lower()


class TestPlugins:
    """What one test registers: workflow classes by name, and plugin objects (a module of
    hook implementations, or an instance of a class holding them)."""

    __test__ = False  # not a test class, whatever its name says to pytest

    def __init__(self) -> None:
        self.workflows: dict[str, type] = {}
        self.plugins: dict[str, Any] = {}
        self.stand_ins: set[str] = set()

    def add_workflow(self, cls: type, name: str | None = None) -> str:
        """Announce ``cls`` as the workflow ``name`` (default: :func:`default_workflow_name`);
        returns the name to trigger it by."""
        name = name or default_workflow_name(cls)
        if name in self.workflows and self.workflows[name] is not cls:
            raise ValueError(f"workflow name {name!r} is already registered for "
                             f"{self.workflows[name].__qualname__}")
        self.workflows[name] = cls
        return name

    def add_plugin(self, plugin: Any, name: str | None = None) -> str:
        """Register ``plugin`` (a module or an object with ``wfsched_*`` hook
        implementations) under ``name`` (default: the module's or the class's name)."""
        if name is None:
            name = plugin.__name__ if isinstance(plugin, ModuleType) else \
                f"{type(plugin).__module__}.{type(plugin).__qualname__}"
        if name in self.plugins and self.plugins[name] is not plugin:
            raise ValueError(f"a plugin named {name!r} is already registered")
        self.plugins[name] = plugin
        return name

    def add_stand_in(self, name: str) -> None:
        """Announce ``name`` as a workflow unless something else does (a ``depends_on``
        target whose results a test supplies: it is never run)."""
        self.stand_ins.add(name)

    def extra_plugins(self) -> tuple[tuple[str, object], ...]:
        """``(name, plugin)`` pairs for ``get_plugin_manager(extra_plugins=...)``."""
        extra: list[tuple[str, object]] = []
        workflows = _not_installed(self.workflows)
        if workflows:
            extra.append(("test.workflows", _WorkflowsPlugin(workflows)))
        if self.stand_ins:
            extra.append(("test.stand-ins", _StandInsPlugin(sorted(self.stand_ins))))
        extra.extend(self.plugins.items())
        return tuple(extra)


def _not_installed(workflows: dict[str, type]) -> dict[str, type]:
    """The workflows an installed entry point does not already announce under the same
    name (a package's own test of its own class: announced once, not twice)."""
    from importlib.metadata import entry_points

    installed = {(ep.name, ep.value.replace(" ", ""))
                 for ep in entry_points(group="wfsched.workflows")}
    return {name: cls for name, cls in workflows.items()
            if (name, f"{cls.__module__}:{cls.__qualname__}") not in installed}


class _WorkflowsPlugin:
    """The ``wfsched_workflows`` implementation that announces a test's workflow classes."""

    def __init__(self, workflows: dict[str, type]) -> None:
        self.workflows = workflows

    @hookimpl
    def wfsched_workflows(self, registry: WorkflowRegistrar) -> None:
        for name, cls in self.workflows.items():
            registry.add(name, cls, f"test ({cls.__module__}:{cls.__qualname__})")


class _StandInsPlugin:
    """Announces the upstream workflows a test only supplies results of; asked last, so
    an installed or registered workflow of that name wins."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    @hookimpl(trylast=True)
    def wfsched_workflows(self, registry: WorkflowRegistrar) -> None:
        from wfsched_core.authoring.workflow import Workflow, step

        for name in self.names:
            def only(self: Any, ctx: Any, name: str = name) -> None:
                raise RuntimeError(f"{name} is a stand-in: the test gave its results only")

            registry.add(name, type(f"StandIn_{name}", (Workflow,), {"only": step(only)}),
                         "test (stand-in for an upstream)")
