"""``OTEL_TRACES_EXPORTER=wfsched_jsonl``: finished spans as JSON lines in a file.

For a look without a collector, and for the tests, which read what the scheduler and the
workers wrote. The path is ``WFSCHED_OTEL_JSONL_PATH``; several processes append to it,
one line (one ``write``) per span.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

PATH_VARIABLE = "WFSCHED_OTEL_JSONL_PATH"


class JsonLinesSpanExporter(SpanExporter):
    """Appends each span as one JSON object per line (the SDK's own JSON form)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.environ.get(PATH_VARIABLE) or "wfsched-spans.jsonl"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(json.loads(span.to_json())) + "\n" for span in spans)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def __repr__(self) -> Any:
        return f"JsonLinesSpanExporter({self.path!r})"
