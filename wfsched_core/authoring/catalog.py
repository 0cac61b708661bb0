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

from wfsched_core.authoring.name_collisions import Announcement, settle
from wfsched_core.authoring.workflow import Workflow, WorkflowSpec, resolve_spec
from wfsched_core.base.code_location import definition_site, raise_site
from wfsched_core.base.errors import ConfigError, UnknownWorkflowError

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings

log = logging.getLogger(__name__)

# Set on an error about a value that came from [workflows.NAME] rather than the class.
_FROM_CONFIG = "wfsched_from_config"


@dataclass
class BrokenWorkflow:
    """A workflow that was announced but cannot run, and why."""

    name: str
    reason: str
    source: str
    #: set when it lost its name to another distribution (``plugins list`` shows it)
    distribution: str | None = None


@dataclass
class _Entry:
    name: str
    load: Callable[[], Any]
    source: str
    plugin: str
    package: str | None = None  # the distribution that announced it, and its version
    version: str | None = None


class WorkflowRegistrar:
    """Handed to ``wfsched_workflows``; collects announcements and applies the name rule
    (:mod:`wfsched_core.authoring.name_collisions`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.current_plugin = ""
        self.current_distribution: str | None = None
        self._announced: dict[str, list[tuple[Announcement, _Entry]]] = {}
        self._broken: dict[str, BrokenWorkflow] = {}

    def add(self, name: str, cls: type[Workflow], source: str = "",
            distribution: str | None = None) -> None:
        """Announce a workflow class under ``name``."""
        self.add_lazy(name, lambda: cls, source, distribution)

    def add_lazy(self, name: str, load: Callable[[], Any], source: str = "",
                 distribution: str | None = None, *, package: str | None = None,
                 version: str | None = None) -> None:
        """Announce a workflow whose class ``load()`` imports only when it is needed;
        ``distribution`` (default: the announcing plugin's) is what a
        ``[workflows.NAME] distribution`` pin names; ``package`` and ``version``: the
        distribution that provides it, which each of its executions records when it
        starts."""
        dist = distribution or self.current_distribution or self.current_plugin or source
        self._announced.setdefault(name, []).append(
            (Announcement(name, dist, source),
             _Entry(name, load, source, self.current_plugin, package, version)))

    def add_broken(self, name: str, reason: str, source: str = "") -> None:
        """Announce a workflow that could not be loaded, with the reason."""
        self._broken[name] = BrokenWorkflow(name, reason, source)

    def build(self) -> Catalog:
        entries: dict[str, _Entry] = {}
        broken = dict(self._broken)
        refused: list[tuple[Announcement, str]] = []
        for name, announced in sorted(self._announced.items()):
            verdict = settle(name, [a for a, _ in announced], self._pin(name),
                             self.settings.where)
            for announcement, entry in announced:
                if announcement is verdict.winner:
                    entries[name] = entry
            refused.extend(verdict.refused)
            if verdict.winner is None and verdict.reason is not None:
                log.warning("workflow %s is broken: %s", name, verdict.reason)
                broken[name] = BrokenWorkflow(name, verdict.reason,
                                              "; ".join(a.source for a, _ in announced))
            for loser, reason in verdict.refused if verdict.winner is not None else ():
                log.info("workflow %s from %s refused: %s", name, loser.source, reason)
                broken[f"{name} ({loser.distribution})"] = BrokenWorkflow(
                    name, reason, loser.source, loser.distribution)
        return Catalog(self.settings, entries, broken, refused)

    def _pin(self, name: str) -> str | None:
        pin = self.settings.workflow_overrides(name).get("distribution")
        if pin is not None and not isinstance(pin, str):
            raise ConfigError(f"{self.settings.where}: [workflows.{name}] distribution must "
                              "be the name of a distribution (a string)")
        return pin


class Catalog:
    """Workflow specs by name, resolved on first use."""

    def __init__(self, settings: Settings, entries: dict[str, _Entry],
                 broken: dict[str, BrokenWorkflow],
                 refused: list[tuple[Announcement, str]] | None = None) -> None:
        self.settings = settings
        #: announcements that do not run under their name (several distributions announce
        #: it), each with the reason: ``plugins list`` shows them
        self.refused = refused or []
        self._entries = entries
        self._specs: dict[str, WorkflowSpec] = {}
        self.broken = broken
        self._checked_graph = False

    @property
    def names(self) -> list[str]:
        return sorted(set(self._entries) | {b.name for b in self.broken.values()})

    @property
    def rows(self) -> list[str]:
        """What ``workflows list`` shows: each name, and each announcement that lost its
        name to another distribution as ``NAME (DISTRIBUTION)``."""
        return sorted(set(self._entries) | set(self.broken))

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
        except Exception as exc:
            self._broken_entry(entry, exc, raise_site(exc))
            return None
        try:
            spec = replace(self._validated(name, cls, entry.source),
                           package=entry.package, package_version=entry.version)
        except ConfigError:
            raise
        except Exception as exc:
            # a value from [workflows.NAME] is not the class's fault: the file is named
            where = (f"[workflows.{name}] in {self.settings.where}"
                     if getattr(exc, _FROM_CONFIG, False) else definition_site(cls))
            self._broken_entry(entry, exc, where)
            return None
        self._specs[name] = spec
        return spec

    def _broken_entry(self, entry: _Entry, exc: Exception, where: str | None) -> None:
        """Record ``entry`` as broken by ``exc``, with the file and line of the author's
        code (where the import failed, or where the class is defined) and the
        distribution that announced it."""
        at = f" at {where}" if where else ""
        reason = f"{type(exc).__name__}: {exc}{at}; announced by {entry.source}"
        log.warning("workflow %s is broken: %s", entry.name, reason)
        self.broken[entry.name] = BrokenWorkflow(entry.name, reason, entry.source)

    def _validated(self, name: str, cls: Any, source: str) -> WorkflowSpec:
        if not (isinstance(cls, type) and issubclass(cls, Workflow)):
            raise TypeError(f"{cls!r} is not a subclass of wfsched_core.Workflow")
        if not cls.steps():
            raise TypeError(f"{cls.__name__} has no @step methods")
        spec = resolve_spec(name, cls, source, self.settings.workflow_overrides(name),
                            where=self.settings.where)
        if spec.schedule:
            from wfsched_core.authoring.schedule import check_schedule

            try:
                check_schedule(spec.schedule, spec.timezone)
            except ValueError as exc:
                overrides = self.settings.workflow_overrides(name)
                setattr(exc, _FROM_CONFIG, "schedule" in overrides or "timezone" in overrides)
                raise
        if spec.retries < 0 or (spec.concurrency is not None and spec.concurrency < 1):
            raise ValueError("retries must be >= 0 and concurrency >= 1")
        return spec

    def _reject_bad_dependencies(self) -> None:
        """Break each workflow in a dependency cycle, then each whose upstream is unknown
        or broken, until none is left (a broken upstream breaks its dependents in turn),
        each saying which upstream and why."""
        graph = {n: s.depends_on for n, s in self._specs.items()}
        for cycle in _find_cycles(graph):
            text = " -> ".join([*cycle, cycle[0]])
            for name in cycle:
                self._break(name, f"dependency cycle: {text}")
        changed = True
        while changed:
            changed = False
            for name, spec in sorted(self._specs.items()):
                reasons = [self._upstream_problem(u) for u in spec.depends_on
                           if u not in self._specs]
                if reasons:
                    self._break(name, "; ".join(reasons))
                    changed = True

    def _upstream_problem(self, upstream: str) -> str:
        broken = self.broken.get(upstream)
        if broken is not None:
            return f"depends_on {upstream!r}, which is broken ({_shortened(broken.reason)})"
        return f"depends_on names unknown workflow {upstream!r}"

    def _break(self, name: str, reason: str) -> None:
        spec = self._specs.pop(name, None)
        if spec is not None:
            log.error("workflow %s is broken: %s", name, reason)
            self.broken[name] = BrokenWorkflow(name, reason, spec.source)


def _shortened(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
