"""What a workflow prints, as JSON log lines, when the execution log is JSON.

With ``--log-format json`` a log shipper reads an execution's log one JSON object per
line; a bare ``print()`` between them would be a line it cannot parse. So, while a worker
runs, ``sys.stdout`` and ``sys.stderr`` are wrapped: each complete line written through
them becomes a record of the logger ``stdout`` (level info) or ``stderr`` (warning),
formatted like every other record. Output written to the file descriptors directly (a
child process, C code) is not Python's to wrap and stays as written.
"""

from __future__ import annotations

import io
import logging
from typing import IO


class JsonLines(io.TextIOBase):
    """A text stream that writes each line to ``target`` as one formatted log record."""

    def __init__(self, target: IO[str], name: str, level: int,
                 formatter: logging.Formatter, execution_id: int | None) -> None:
        self.target = target
        self.name = name
        self.level = level
        self.formatter = formatter
        self.execution_id = execution_id
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        if "\n" in self._partial:
            *lines, self._partial = self._partial.split("\n")
            for line in lines:
                self._emit(line)
            self.target.flush()
        return len(text)

    def flush(self) -> None:
        """Write a pending partial line as a record of its own (the end of a run)."""
        if self._partial:
            line, self._partial = self._partial, ""
            self._emit(line)
        self.target.flush()

    def _emit(self, line: str) -> None:
        record = logging.LogRecord(self.name, self.level, "", 0, line, None, None)
        if self.execution_id is not None:
            record.execution_id = self.execution_id
        self.target.write(self.formatter.format(record) + "\n")

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"
