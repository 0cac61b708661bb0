"""The per-invocation application object: settings, plugins and store, built on demand."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from wfsched_core.base.config import Settings, load_settings

if TYPE_CHECKING:
    from wfsched_core.framework.hooks import PluginHooks
    from wfsched_core.framework.plugin_manager import WfschedPluginManager
    from wfsched_core.store.contract import Store
    from wfsched_core.store.sqlite_direct import SqliteDirectStore

# The plugin that provides the built-in store (see framework/builtins.py).
_BUILTIN_STORE_PLUGIN = "core.store"


class App:
    """What a command needs, each part built the first time it is asked for."""

    def __init__(self, database_url: str | None = None, config_file: str | None = None,
                 verbosity: int = 0, *,
                 extra_plugins: tuple[tuple[str, object], ...] = ()) -> None:
        self.database_url = database_url
        # (name, plugin) registered without an entry point: the testing kit's way in
        self.extra_plugins = extra_plugins
        self.config_file = config_file
        self.verbosity = verbosity
        # Only commands that write (scheduler, trigger) create a missing SQLite database;
        # the others say it is missing (``db upgrade`` uses raw_store, which creates it).
        self.creates_database = False

    @cached_property
    def settings(self) -> Settings:
        return load_settings(database_url=self.database_url, config_file=self.config_file)

    @cached_property
    def plugin_manager(self) -> WfschedPluginManager:
        from wfsched_core.framework.plugin_manager import get_plugin_manager

        return get_plugin_manager(self.settings, extra_plugins=self.extra_plugins)

    @cached_property
    def hooks(self) -> PluginHooks:
        from wfsched_core.framework.hooks import PluginHooks

        hooks = PluginHooks(self.plugin_manager, self.settings)
        hooks.configure()
        return hooks

    @cached_property
    def store(self) -> Store:
        """The store, with its schema checked (and created on first use for SQLite)."""
        if not self.creates_database:
            from wfsched_core.store.db.engine import require_existing_database

            require_existing_database(self.settings.database_url)
        store = self.hooks.store()
        store.ensure_schema(auto_create=True)
        return store

    @cached_property
    def quick_store(self) -> Store | SqliteDirectStore:
        """The store of the commands a person types (``trigger``, ``executions list|show``,
        ``logs``, ``cancel``).

        On a SQLite file served by the built-in store, the standard library's driver
        (``store/sqlite_direct.py``: no SQLAlchemy to import); otherwise, or when a plugin
        provides a store of its own, :attr:`store`. Plugins are loaded and configured
        either way, as for every command that opens the store.
        """
        from wfsched_core.store.sqlite_direct import open_direct_store

        direct = open_direct_store(self.settings.database_url)
        if direct is None:  # not a SQLite file that exists with the current schema
            return self.store
        self.hooks  # noqa: B018 - plugins loaded and configured, as for self.store
        providers = {impl.plugin_name
                     for impl in self.plugin_manager.hook.wfsched_store.get_hookimpls()}
        if providers != {_BUILTIN_STORE_PLUGIN}:  # a plugin's store is asked first
            direct.dispose()
            return self.store
        return direct

    def raw_store(self) -> Store:
        """The store without the schema check (for ``db upgrade``)."""
        return self.hooks.store()
