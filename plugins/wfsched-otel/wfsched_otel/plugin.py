"""The scheduler's side: each execution's trace starts when its worker is spawned.

``wfsched_worker_environment`` records the root span ``wfsched.execution`` (from the time
the execution was queued to its spawn) and its child ``wfsched.wait`` (the wait before it
starts: queued, backoff, held), then gives the worker the trace context (``TRACEPARENT``,
W3C) and the module to load (``WFSCHED_WORKER_INSTRUMENTATION``), so that the worker's
spans join the same trace whatever the start mode or spawner.
"""

from __future__ import annotations

import calendar
import logging
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from wfsched_core.framework.hookspecs import hookimpl
from wfsched_otel.tracing import (
    ENV_SPAWNER,
    TRACER_NAME,
    common_attributes,
    exporter_names,
    new_provider,
)

if TYPE_CHECKING:
    from wfsched_core.base.records import Execution

log = logging.getLogger(__name__)

WORKER_MODULE = "wfsched_otel.worker"


@lru_cache(maxsize=1)
def _scheduler_tracer(names: tuple[str, ...]) -> Any:
    """One provider per scheduler process (exports in the background, flushed at exit by
    the SDK's own exit handler)."""
    return new_provider(list(names), batch=True).get_tracer(TRACER_NAME)


def _nanoseconds(when: datetime | None, default: int) -> int:
    if when is None:
        return default
    return calendar.timegm(when.timetuple()) * 1_000_000_000 + when.microsecond * 1000


@hookimpl
def wfsched_worker_environment(execution: Execution, spawner: str) -> dict[str, str] | None:
    """Start ``execution``'s trace; the variables that carry it into the worker."""
    names = exporter_names()
    if not names:
        return None
    import time

    from opentelemetry import context, trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    tracer = _scheduler_tracer(tuple(names))
    now = time.time_ns()
    queued = min(_nanoseconds(execution.created_at, now), now)
    attributes = {**common_attributes(execution), "wfsched.spawner": spawner}
    root = tracer.start_span(f"wfsched.execution {execution.workflow}",
                             context=context.Context(), start_time=queued,
                             attributes=attributes, kind=trace.SpanKind.PRODUCER)
    in_root = trace.set_span_in_context(root)
    wait = tracer.start_span("wfsched.wait", context=in_root, start_time=queued,
                             attributes=attributes)
    wait.end(end_time=now)
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, context=in_root)
    root.end(end_time=now)
    variables = {"TRACEPARENT": carrier["traceparent"],
                 "WFSCHED_WORKER_INSTRUMENTATION": WORKER_MODULE, ENV_SPAWNER: spawner}
    if carrier.get("tracestate"):
        variables["TRACESTATE"] = carrier["tracestate"]
    return variables
