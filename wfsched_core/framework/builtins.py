"""The core's built-in plugins, registered exactly as external ones are.

Each lives in the package its concept belongs to (the store's in ``store``, the local
spawner in ``spawn``, the operations plugins in ``ops``); this table is the one list of
them, read by the plugin manager (to register them) and by the hook guard (to call their
implementations without a thread and a time budget).
"""

from __future__ import annotations

# (name, module[:attribute], essential)
BUILTIN_PLUGINS: tuple[tuple[str, str, bool], ...] = (
    ("core.workflows", "wfsched_core.framework.entrypoint_workflows", True),
    ("core.store", "wfsched_core.store.plugin", True),
    ("core.local-spawner", "wfsched_core.spawn.local", False),
    ("core.admission", "wfsched_core.ops.resource_admission:ResourceAdmission", False),
    ("core.log-notifier", "wfsched_core.notify.log_notifier", False),
    ("core.systemd-notify", "wfsched_core.ops.systemd_notify:SystemdNotify", False),
    ("core.metrics", "wfsched_core.ops.metrics:SchedulerMetrics", False),
    ("core.retention", "wfsched_core.ops.retention_plugin:DailyRetention", False),
)

# The modules those plugins' hook implementations are defined in.
BUILTIN_MODULES: frozenset[str] = frozenset(
    module.partition(":")[0] for _, module, _ in BUILTIN_PLUGINS)
