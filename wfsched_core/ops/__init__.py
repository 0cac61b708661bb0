"""What an operator runs beside the scheduler: retention, metrics, readiness, admission.

Owns the built-in plugins that serve operations rather than running work: pruning old
executions and their logs (``retention`` and its hook implementation
``retention_plugin``), Prometheus metrics (``metrics``, served
with ``/healthz`` and ``/readyz`` by ``metrics_server``), the health verdict of
``status --check`` and those routes (``health``), systemd's readiness and watchdog
(``systemd_notify``), resource admission (``resource_admission``), and the rows of
``workflows list`` (``workflow_listing``). It may import the store, the framework,
``authoring`` and ``base``; the CLI and the web plugin import it, the scheduler does not.
"""
