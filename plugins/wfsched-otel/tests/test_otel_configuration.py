"""Which exporters the ``OTEL_*`` variables ask for: tracing stays off until one is named."""

from __future__ import annotations

import pytest
from wfsched_otel.tracing import exporter_names, new_provider


@pytest.mark.parametrize(("env", "names"), [
    ({}, []),  # installed, not configured: nothing traced, nothing exported
    ({"OTEL_TRACES_EXPORTER": "none"}, []),
    ({"OTEL_TRACES_EXPORTER": "console, otlp"}, ["console", "otlp"]),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, []),
])
def test_exporters_named_by_the_environment(env: dict[str, str], names: list[str]) -> None:
    assert exporter_names(env) == names


def test_an_unknown_exporter_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="'nosuch', which no installed package provides"):
        new_provider(["nosuch"], batch=False)
