"""The plugin framework: the hook specifications and how wfsched calls them.

Owns the hook specifications (``hookspecs``), the spawner contract a spawn strategy
implements (``spawning``: SpawnRequest, WorkerHandle, SpawnerRegistrar), the plugin
manager that loads built-in and installed plugins (``plugin_manager``, with the built-in
entry-point workflow discovery in ``entrypoint_workflows``), the typed caller the rest of
the core uses (``hooks``: pluggy's own call order, a guard and a time budget around each
third-party implementation in ``hook_guard``, circuit breakers in ``plugin_health``, and
the background lane for lifecycle events in ``event_queue``). It may import ``base`` and
``authoring``; the store and the spawn strategies only for type annotations.
"""
