"""OpenTelemetry traces for wfsched executions.

One trace per execution: the scheduler starts it when it spawns the worker (a root span
``wfsched.execution`` from the time it was queued, with a child ``wfsched.wait`` for the
time it waited to start) and hands the trace context to the worker through ``TRACEPARENT``
(``wfsched_worker_environment``); the worker (``worker.py``, loaded by the core's worker
instrumentation variable) adds ``wfsched.run`` and one span per step under it. Exporters
are configured the OpenTelemetry way (``OTEL_TRACES_EXPORTER``, ``OTEL_EXPORTER_OTLP_*``,
``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``); nothing is traced until an exporter
is named (``tracing.py``). Imports: the core's authoring, base and framework layers only.
"""
