"""``--log-format json``: one JSON object per log record, for log shippers.

The format is chosen once per ``wfsched`` command and travels to the processes it starts
(workers, the fork server) in ``WFSCHED_LOG_FORMAT``, so that an execution's own log file
is written in the same format as the scheduler's stderr.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone

#: ``text`` (the default) or ``json``; also the default of ``wfsched --log-format``
ENV_LOG_FORMAT = "WFSCHED_LOG_FORMAT"
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}`` plus ``execution_id`` and other extras."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value if isinstance(value, (str, int, float, bool, type(None))) \
                    else str(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def make_formatter(log_format: str | None) -> logging.Formatter:
    """The formatter for ``json`` or (anything else) the plain text lines."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def log_format_in_force() -> str:
    """The format this process was asked for through its environment (``text``)."""
    value = os.environ.get(ENV_LOG_FORMAT, "text")
    return value if value in LOG_FORMATS else "text"
