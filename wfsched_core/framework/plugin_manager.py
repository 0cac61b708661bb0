"""Build the plugin manager: built-ins first, then entry points, each guarded.

A plugin that fails to import, implements a hook that does not exist, or is blocked is
recorded with the reason and skipped; the rest keep working. ``WFSCHED_STRICT_PLUGINS=1``
turns a broken plugin into a failure (for CI).
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from wfsched_core.base.code_location import definition_site, raise_site
from wfsched_core.base.config import Settings
from wfsched_core.base.errors import ConfigError
from wfsched_core.framework import hookspecs
from wfsched_core.framework.builtins import BUILTIN_PLUGINS
from wfsched_core.framework.hook_guard import HookGuard
from wfsched_core.framework.plugin_health import BreakerBoard

log = logging.getLogger(__name__)

PLUGIN_ENTRY_POINT_GROUP = "wfsched.plugins"
# "name=package.module[:Class],...": plugins registered without an entry point, in every
# wfsched process that inherits it (the testing kit hands a test's plugins to workers)
ENV_EXTRA_PLUGINS = "WFSCHED_EXTRA_PLUGINS"


@dataclass
class PluginInfo:
    """What ``wfsched plugins list`` shows of one plugin (contract JSON fields)."""

    name: str
    version: str | None = None
    distribution: str | None = None
    hooks: list[str] = field(default_factory=list)
    source: str = ""
    error: str | None = None
    blocked: bool = False
    skipped: dict[str, Any] | None = None  # its breaker is open: reason, until (epoch s)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "hooks": self.hooks,
            "source": self.source,
            "error": self.error,
            "blocked": self.blocked,
            "skipped": self.skipped,
        }


class WfschedPluginManager(pluggy.PluginManager):
    """A pluggy manager that also remembers what it loaded, skipped and why, and guards
    each plugin's lifecycle and admission hooks as it registers it."""

    def __init__(self, guard: HookGuard | None = None) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.guard = guard or HookGuard()

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register as pluggy does, then put wfsched's guard inside each implementation."""
        plugin_name = super().register(plugin, name)
        if plugin_name is not None:
            self.guard.install(self, plugin, plugin_name)
        return plugin_name

    def plugin_infos(self) -> list[PluginInfo]:
        """Every plugin seen, loaded or not, with the hooks each implements."""
        for name, info in self.infos.items():
            plugin = self.get_plugin(name)
            if plugin is not None:
                info.hooks = sorted(
                    caller.name for caller in self.get_hookcallers(plugin) or []
                )
            state = self.guard.board.state(name)
            info.skipped = None if state is None or not state.is_open() else {
                "reason": state.reason, "hook": state.hook, "until": state.open_until,
                "trips": state.trips, "detail": state.describe()}
        return list(self.infos.values())


def get_plugin_manager(
    settings: Settings,
    *,
    load_entrypoints: bool = True,
    extra_plugins: tuple[tuple[str, object], ...] = (),
) -> WfschedPluginManager:
    """Build a manager with the built-ins, ``extra_plugins`` and the installed plugins."""
    pm = WfschedPluginManager(HookGuard(
        budget=float(settings.scheduler_option("notify_budget")),
        board=BreakerBoard(settings.home, float(settings.scheduler_option("notify_backoff"))),
    ))
    blocked = set(settings.disabled_plugins)
    for name, module_name, essential in BUILTIN_PLUGINS:
        if name in blocked and essential:
            raise ConfigError(
                f"plugin {name} is essential and cannot be disabled; "
                "register a plugin that replaces it instead"
            )
        _register_guarded(
            pm, name, lambda m=module_name: _import_object(m), "builtin",
            _core_version(), "wfsched-core", blocked, settings.strict_plugins,
        )  # fmt: skip
    for name, plugin in extra_plugins:
        _register_guarded(
            pm, name, lambda p=plugin: p, "test", None, None, blocked, settings.strict_plugins
        )
    for name, reference in _environment_plugins():
        _register_guarded(
            pm, name, lambda r=reference: _import_object(r), f"{ENV_EXTRA_PLUGINS} {reference}",
            None, None, blocked, settings.strict_plugins,
        )  # fmt: skip
    if load_entrypoints:
        for entry_point in _plugin_entry_points():
            dist = getattr(entry_point, "dist", None)
            _register_guarded(
                pm, entry_point.name, entry_point.load,
                f"entry point {entry_point.value}",
                getattr(dist, "version", None), getattr(dist, "name", None),
                blocked, settings.strict_plugins,
            )  # fmt: skip
    pm.check_pending()
    return pm


def _register_guarded(
    pm: WfschedPluginManager,
    name: str,
    load: Any,
    source: str,
    version: str | None,
    distribution: str | None,
    blocked: set[str],
    strict: bool,
) -> None:
    info = PluginInfo(name=name, version=version, distribution=distribution, source=source)
    if name in pm.infos:
        info.error = f"a plugin named {name!r} is already registered ({pm.infos[name].source})"
        pm.infos[f"{name} ({source})"] = info
        log.warning("plugin %s skipped: %s", name, info.error)
        return
    pm.infos[name] = info
    if name in blocked:
        info.blocked = True
        pm.set_blocked(name)
        return
    try:
        plugin = load()
        unknown = _unknown_hooks(plugin)
        if unknown:
            raise pluggy.PluginValidationError(plugin, _unknown_hooks_message(plugin, unknown))
        pm.register(plugin, name=name)
    except Exception as exc:  # a broken plugin must not take the tool down
        where = raise_site(exc)
        info.error = f"{type(exc).__name__}: {exc}" + (
            f" at {where}" if where and not isinstance(exc, pluggy.PluginValidationError)
            else "")
        log.warning("plugin %s failed to load: %s", name, info.error)
        if strict:
            raise ConfigError(f"plugin {name} failed to load: {info.error}")


def _environment_plugins() -> list[tuple[str, str]]:
    """``(name, reference)`` pairs of ``WFSCHED_EXTRA_PLUGINS``."""
    pairs = []
    for item in os.environ.get(ENV_EXTRA_PLUGINS, "").split(","):
        name, _, reference = item.strip().partition("=")
        if name.strip():
            pairs.append((name.strip(), reference.strip() or name.strip()))
    return pairs


def _import_object(reference: str) -> object:
    """``"package.module"``, or ``"package.module:Class"`` for a fresh plugin object
    per manager (a plugin with state of its own)."""
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)() if attribute else module


def _unknown_hooks(plugin: object) -> list[str]:
    names = dir(plugin) if not isinstance(plugin, ModuleType) else list(vars(plugin))
    return sorted(
        attr for attr in names
        if attr.startswith("wfsched_") and callable(getattr(plugin, attr, None))
        and attr not in hookspecs.ALL_HOOKS
    )  # fmt: skip


def _unknown_hooks_message(plugin: object, unknown: list[str]) -> str:
    """Each unknown hook with where it is defined and the hook it probably means."""
    parts = []
    for attr in unknown:
        text = f"unknown hook {attr}"
        where = definition_site(getattr(plugin, attr))
        if where:
            text += f" at {where}"
        meant = _meant_hooks(attr)
        if meant:
            text += f" (did you mean {' or '.join(meant)}?)"
        parts.append(text)
    return "; ".join(parts) + " (the hooks: wfsched_core.framework.hookspecs)"


# An execution ends in one of three hooks; there is no "execution finished" one.
_ENDINGS = ("wfsched_execution_completed", "wfsched_execution_failed",
            "wfsched_execution_cancelled")


def _meant_hooks(attr: str) -> list[str]:
    """The hook(s) a misspelled name most likely means (empty when none is close)."""
    if "execution" in attr and any(w in attr for w in ("finish", "end", "done")):
        return list(_ENDINGS)
    return difflib.get_close_matches(attr, sorted(hookspecs.ALL_HOOKS), n=1, cutoff=0.75)


def _plugin_entry_points() -> list[metadata.EntryPoint]:
    return sorted(
        metadata.entry_points(group=PLUGIN_ENTRY_POINT_GROUP), key=lambda ep: ep.name
    )


def _core_version() -> str | None:
    from wfsched_core import __version__

    return __version__
