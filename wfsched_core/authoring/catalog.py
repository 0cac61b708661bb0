"""The catalog of workflows announced through the discovery hook.

Entries are resolved lazily: a worker imports only the module of the workflow it runs,
while ``workflows list`` and the scheduler resolve (and validate) them all. A workflow that
fails to import or to validate is *broken*: listed with its reason, never run, and it does
not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from wfsched_core.authoring.workflow import Workflow, WorkflowSpec, resolve_spec
from wfsched_core.base.errors import ConfigError, UnknownWorkflowError

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings

log = logging.getLogger(__name__)

CATCHUP_MODES = ("all", "latest", "none")
OVERLAP_MODES = ("allow", "skip", "replace")


@dataclass
class BrokenWorkflow:
    """A workflow that was announced but cannot run, and why."""

    name: str
    reason: str
    source: str


@dataclass
class _Entry:
    name: str
    load: Callable[[], Any]
    source: str
    plugin: str
    package: str | None = None  # the distribution that announced it, and its version
    version: str | None = None


class WorkflowRegistrar:
    """Handed to ``wfsched_workflows``; collects announcements and applies the name rule."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.current_plugin = ""
        self._entries: dict[str, _Entry] = {}
        self._broken: dict[str, BrokenWorkflow] = {}

    def add(self, name: str, cls: type[Workflow], source: str = "") -> None:
        """Announce a workflow class under ``name``."""
        self.add_lazy(name, lambda: cls, source)

    def add_lazy(self, name: str, load: Callable[[], Any], source: str = "", *,
                 package: str | None = None, version: str | None = None) -> None:
        """Announce a workflow whose class ``load()`` imports only when it is needed;
        ``package`` and ``version``: the distribution that provides it, which each of its
        executions records when it starts."""
        if name in self._entries:
            first = self._entries[name]
            log.warning("workflow %s from %s ignored: %s already provides it",
                        name, source, first.source)
            self._broken.setdefault(
                f"{name} ({source})",
                BrokenWorkflow(name, f"name already taken by {first.source}", source),
            )
            return
        self._entries[name] = _Entry(name, load, source, self.current_plugin, package, version)

    def add_broken(self, name: str, reason: str, source: str = "") -> None:
        """Announce a workflow that could not be loaded, with the reason."""
        self._broken[name] = BrokenWorkflow(name, reason, source)

    def build(self) -> Catalog:
        return Catalog(self.settings, dict(self._entries), dict(self._broken))


class Catalog:
    """Workflow specs by name, resolved on first use."""

    def __init__(self, settings: Settings, entries: dict[str, _Entry],
                 broken: dict[str, BrokenWorkflow]) -> None:
        self.settings = settings
        self._entries = entries
        self._specs: dict[str, WorkflowSpec] = {}
        self.broken = broken
        self._checked_graph = False

    @property
    def names(self) -> list[str]:
        return sorted(set(self._entries) | {b.name for b in self.broken.values()})

    def get(self, name: str) -> WorkflowSpec:
        """The spec of ``name``; an unknown or broken workflow is a clear error."""
        spec = self._resolve(name)
        if spec is not None and spec.depends_on:
            self.all()  # only a workflow with dependencies can be part of a cycle
            spec = self._specs.get(name)
        if spec is None:
            broken = self.broken.get(name)
            if broken is not None:
                raise UnknownWorkflowError(f"workflow {name!r} is broken: {broken.reason}")
            known = ", ".join(sorted(self._entries)) or "none installed"
            raise UnknownWorkflowError(f"unknown workflow {name!r} (known: {known})")
        return spec

    def find(self, name: str) -> WorkflowSpec | None:
        """The spec of ``name`` or None when it is unknown or broken."""
        return self._resolve(name)

    def all(self) -> dict[str, WorkflowSpec]:
        """Every workflow that resolves, with dependency cycles reported as broken."""
        for name in list(self._entries):
            self._resolve(name)
        if not self._checked_graph:
            self._checked_graph = True
            self._reject_bad_dependencies()
        return dict(sorted(self._specs.items()))

    def _resolve(self, name: str) -> WorkflowSpec | None:
        if name in self._specs:
            return self._specs[name]
        entry = self._entries.get(name)
        if entry is None or name in self.broken:
            return None
        try:
            cls = entry.load()
            spec = replace(self._validated(name, cls, entry.source),
                           package=entry.package, package_version=entry.version)
        except ConfigError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("workflow %s is broken: %s", name, reason)
            self.broken[name] = BrokenWorkflow(name, reason, entry.source)
            return None
        self._specs[name] = spec
        return spec

    def _validated(self, name: str, cls: Any, source: str) -> WorkflowSpec:
        if not (isinstance(cls, type) and issubclass(cls, Workflow)):
            raise TypeError(f"{cls!r} is not a subclass of wfsched_core.Workflow")
        if not cls.steps():
            raise TypeError(f"{cls.__name__} has no @step methods")
        spec = resolve_spec(name, cls, source, self.settings.workflow_overrides(name))
        if spec.schedule:
            from wfsched_core.authoring.schedule import check_schedule

            check_schedule(spec.schedule, spec.timezone)
        if spec.catchup not in CATCHUP_MODES:
            raise ValueError(f"catchup must be one of {', '.join(CATCHUP_MODES)}")
        if spec.overlap not in OVERLAP_MODES:
            raise ValueError(f"overlap must be one of {', '.join(OVERLAP_MODES)}")
        if spec.retries < 0 or (spec.concurrency is not None and spec.concurrency < 1):
            raise ValueError("retries must be >= 0 and concurrency >= 1")
        return spec

    def _reject_bad_dependencies(self) -> None:
        graph = {n: s.depends_on for n, s in self._specs.items()}
        for name, upstream in graph.items():
            missing = [u for u in upstream if u not in graph]
            if missing:
                self._break(name, f"depends_on names unknown workflow(s): {', '.join(missing)}")
        for cycle in _find_cycles(graph):
            text = " -> ".join([*cycle, cycle[0]])
            for name in cycle:
                self._break(name, f"dependency cycle: {text}")

    def _break(self, name: str, reason: str) -> None:
        spec = self._specs.pop(name, None)
        if spec is not None:
            log.error("workflow %s is broken: %s", name, reason)
            self.broken[name] = BrokenWorkflow(name, reason, spec.source)


def _find_cycles(graph: dict[str, tuple[str, ...]]) -> list[list[str]]:
    """Each cycle of the dependency graph once (depth-first search with colours)."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles
