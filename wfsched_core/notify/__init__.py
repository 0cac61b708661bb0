"""What every notifier plugin shares, so that each notifier installs on the core alone.

Owns the pieces a notifier builds on: ``notification`` (one lifecycle event as notifiers
see it, the per-destination event filter and the event's JSON form), ``config_table``
(reading and checking a ``[notify.NAME]`` table), ``delivery`` (sending in background
threads with a bounded wait at exit) and ``notifier_base`` (``EventNotifier``: the hook
implementations that route each event to the destinations that want it). A notifier
subclasses ``EventNotifier``, reads its own table and says how to send one notification.

Nothing in the core imports this package; the notifier plugins (``wfsched-notify-webhook``,
``wfsched-notify-email``, or a third party's) do. It may import only the authoring records
(``wfsched_core.base.records``), ``errors``, ``config`` and the hook specs, and the standard
library: no dependency beyond the core's own.
"""
