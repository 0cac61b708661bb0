"""Tracer providers configured from the ``OTEL_*`` variables, in either process.

Tracing is on only when the environment names an exporter (``OTEL_TRACES_EXPORTER``, or an
OTLP endpoint, which means ``otlp``), and ``OTEL_SDK_DISABLED`` is not true: installing the
plugin alone traces nothing, so an installation without a collector never pays for spans
nor waits on an unreachable endpoint. ``OTEL_TRACES_EXPORTER`` takes the names of the
``opentelemetry_traces_exporter`` entry points (``console``, ``otlp_proto_http``, this
plugin's ``wfsched_jsonl`` ...); ``otlp`` means OTLP over HTTP (or gRPC when
``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` and its exporter is installed), as the SDK's own
auto-configuration reads it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from importlib import metadata
from typing import Any

TRACER_NAME = "wfsched_otel"
#: the spawner's name, for the worker's spans (the worker is not told otherwise)
ENV_SPAWNER = "WFSCHED_OTEL_SPAWNER"
EXPORTER_GROUP = "opentelemetry_traces_exporter"
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def exporter_names(env: Mapping[str, str] = os.environ) -> list[str]:
    """The exporters the environment asks for; empty: tracing is off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names and any(env.get(v) for v in _ENDPOINT_VARIABLES):
        names = ["otlp"]
    return [n for n in names if n != "none"]


def _entry_point_name(name: str, env: Mapping[str, str]) -> str:
    if name != "otlp":
        return name
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or \
        env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    return "otlp_proto_grpc" if protocol == "grpc" else "otlp_proto_http"


def new_provider(names: list[str], *, batch: bool) -> Any:
    """A tracer provider exporting to ``names``; ``batch``: in a background thread (the
    scheduler), else each span as it ends (a worker, which flushes at its end anyway)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME")
                                or "wfsched"})
    provider = TracerProvider(resource=resource)
    for name in names:
        exporter = _exporter_class(_entry_point_name(name, os.environ))()
        provider.add_span_processor(BatchSpanProcessor(exporter) if batch
                                    else SimpleSpanProcessor(exporter))
    return provider


# The usual exporters by their entry-point names, imported directly: reading every
# installed distribution's entry points costs a traced worker ~25 ms.
_KNOWN_EXPORTERS = {
    "otlp_proto_http": "opentelemetry.exporter.otlp.proto.http.trace_exporter:OTLPSpanExporter",
    "console": "opentelemetry.sdk.trace.export:ConsoleSpanExporter",
    "wfsched_jsonl": "wfsched_otel.jsonl:JsonLinesSpanExporter",
}


def _exporter_class(name: str) -> Any:
    """The exporter class an ``opentelemetry_traces_exporter`` entry point names."""
    if name in _KNOWN_EXPORTERS:
        return metadata.EntryPoint(name, _KNOWN_EXPORTERS[name], EXPORTER_GROUP).load()
    available = {ep.name: ep for ep in metadata.entry_points(group=EXPORTER_GROUP)}
    if name not in available:
        raise ValueError(f"OTEL_TRACES_EXPORTER names {name!r}, which no installed "
                         f"package provides (known: {', '.join(sorted(available))})")
    return available[name].load()


def common_attributes(execution: Any) -> dict[str, Any]:
    """What every span of an execution says about it."""
    return {"wfsched.execution_id": execution.id, "wfsched.workflow": execution.workflow,
            "wfsched.attempt": execution.attempt, "host.name": socket.gethostname()}
