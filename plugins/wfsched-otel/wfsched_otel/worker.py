"""The worker's side, loaded by the core's worker when ``WFSCHED_WORKER_INSTRUMENTATION``
names it: ``wfsched.run`` under the scheduler's span (from ``TRACEPARENT``), and one span
per step under it, current while the step runs (so the workflow's own spans nest in it).

A worker started without a trace context (``wfsched execute`` by hand with the variable
set) starts a trace of its own. The spans are exported as they end and the provider is
shut down when the run ends, so nothing waits in a buffer when the process exits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from wfsched_otel.tracing import (
    ENV_SPAWNER,
    TRACER_NAME,
    common_attributes,
    exporter_names,
    new_provider,
)

if TYPE_CHECKING:
    from wfsched_core.base.records import Execution


class TracedRun:
    """The spans of one execution in its worker."""

    def __init__(self, execution: Execution, provider: Any) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(TRACER_NAME)
        self.attributes = common_attributes(execution)
        if os.environ.get(ENV_SPAWNER):
            self.attributes["wfsched.spawner"] = os.environ[ENV_SPAWNER]
        parent = TraceContextTextMapPropagator().extract({
            "traceparent": os.environ.get("TRACEPARENT", ""),
            "tracestate": os.environ.get("TRACESTATE", "")})
        self.span = self.tracer.start_span(f"wfsched.run {execution.workflow}",
                                           context=parent, attributes=self.attributes,
                                           kind=trace.SpanKind.CONSUMER)

    @contextmanager
    def step(self, position: int, name: str) -> Iterator[object]:
        with self.tracer.start_as_current_span(
                f"wfsched.step {name}", context=trace.set_span_in_context(self.span),
                attributes={**self.attributes, "wfsched.step": name,
                            "wfsched.step_position": position}) as span:
            yield span

    def finished(self, status: str, error: str | None) -> None:
        self.span.set_attribute("wfsched.status", status)
        if status != "completed":
            self.span.set_status(Status(StatusCode.ERROR, error or status))
        self.span.end()
        self.provider.shutdown()


def start(execution: Execution) -> TracedRun | None:
    """The instrumentation of ``execution``'s run (the core's worker calls this)."""
    names = exporter_names()
    if not names:
        return None
    provider = new_provider(names, batch=False)
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)  # the workflow's own spans join the trace
    return TracedRun(execution, provider)
