"""Per-execution log files under ``WFSCHED_HOME/logs``: paths, capture and tails."""

from __future__ import annotations

import io
import logging
import os
import sys
from pathlib import Path
from typing import IO, Any

from wfsched_core.base.log_format import TEXT_FORMAT, log_format_in_force, make_formatter

# Set by spawners that already point the worker's stdout/stderr at the log file.
ENV_LOG_CAPTURED = "WFSCHED_LOG_CAPTURED"
LOG_FORMAT = TEXT_FORMAT


def log_path(logs_dir: Path, execution_id: int) -> Path:
    return logs_dir / f"{execution_id}.log"


def open_for_worker(path: Path) -> IO[bytes]:
    """Open (append) the log file a spawner hands to a worker as stdout and stderr.

    Raises OSError (unwritable directory, full disk) for the caller to record as the
    execution's failure.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab", buffering=0)  # noqa: SIM115 - handed to the child


class _Tee(io.TextIOBase):
    """Write to the log file and to the terminal the worker was started from."""

    def __init__(self, *streams: IO[str]) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:
        return False


class _RecordingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that remembers a failed write instead of only printing it (to
    the very stream that failed): a full disk must not cut the log silently."""

    def __init__(self, stream: Any, capture: ExecutionLogCapture | None) -> None:
        super().__init__(stream)
        self.capture = capture
        self.setFormatter(_FORMATTER)
        self.addFilter(self._add_execution_id)

    def _add_execution_id(self, record: logging.LogRecord) -> bool:
        """Every record of an execution's log names it (a JSON field; text ignores it)."""
        if self.capture is not None and self.capture.execution_id is not None \
                and not hasattr(record, "execution_id"):
            record.execution_id = self.capture.execution_id
        return True

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        error = sys.exc_info()[1]
        if isinstance(error, OSError) and self.capture is not None:
            self.capture.write_failed(error)
        else:
            super().handleError(record)


_FORMATTER = logging.Formatter(LOG_FORMAT)
# Built once (a forked worker inherits it ready): a handler registers itself with the
# logging module, and making one was a tenth of a short execution's cost.
_SHARED_HANDLER = _RecordingHandler(None, None)


class ExecutionLogCapture:
    """Route a worker's output and log records into its execution's log file.

    ``write_error`` is the first error a log write met (the runner fails the step, and
    never records a run ``completed`` whose log was cut).
    """

    def __init__(self, path: Path, execution_id: int | None = None) -> None:
        self.path = path
        self.execution_id = execution_id
        self.write_error: OSError | None = None
        self._saved: tuple[Any, Any] | None = None
        self._handler: logging.Handler | None = None
        self._file: IO[str] | None = None
        self._saved_handlers: list[logging.Handler] = []
        self._json_saved: tuple[Any, Any] | None = None

    def __enter__(self) -> ExecutionLogCapture:
        if not os.environ.get(ENV_LOG_CAPTURED):
            # run by hand: keep showing output, and also write it to the log file
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
            self._saved = (sys.stdout, sys.stderr)
            sys.stdout = _Tee(self._file, sys.stdout)  # type: ignore[assignment]
            sys.stderr = _Tee(self._file, sys.stderr)  # type: ignore[assignment]
        else:
            # line-buffer so that `logs --follow` and a crash lose nothing (a forked
            # worker's streams write through already)
            for stream in (sys.stdout, sys.stderr):
                reconfigure = getattr(stream, "reconfigure", None)
                if reconfigure and not getattr(stream, "write_through", False) \
                        and not getattr(stream, "line_buffering", False):
                    reconfigure(line_buffering=True)
        if _SHARED_HANDLER.capture is None:  # one execution per worker: the usual case
            self._handler = _SHARED_HANDLER
            _SHARED_HANDLER.stream = sys.stderr
            _SHARED_HANDLER.capture = self
        else:
            self._handler = _RecordingHandler(sys.stderr, self)
        # the format of the command that started this worker (WFSCHED_LOG_FORMAT), read
        # per execution: a forked worker inherits the handler, not its environment's value
        log_format = log_format_in_force()
        if log_format != getattr(self._handler, "log_format", "text"):
            self._handler.setFormatter(make_formatter(log_format))
            self._handler.log_format = log_format  # type: ignore[attr-defined]
        if log_format == "json":
            self._print_as_json()
        root = logging.getLogger()
        self._saved_handlers = root.handlers[:]
        root.handlers = [self._handler]  # the CLI's own handler would write every line twice
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        return self

    def _print_as_json(self) -> None:
        """What the workflow prints becomes JSON records too (see base/json_lines.py);
        the handler keeps writing to the stream underneath."""
        from wfsched_core.base.json_lines import JsonLines

        assert self._handler is not None and self._handler.formatter is not None
        formatter = self._handler.formatter
        self._json_saved = (sys.stdout, sys.stderr)
        sys.stdout = JsonLines(sys.stdout, "stdout", logging.INFO, formatter,  # type: ignore[assignment]
                               self.execution_id)
        sys.stderr = JsonLines(sys.stderr, "stderr", logging.WARNING, formatter,  # type: ignore[assignment]
                               self.execution_id)

    def write_failed(self, error: OSError) -> None:
        """Remember the first failed write of the log."""
        if self.write_error is None:
            self.write_error = error

    def __exit__(self, *exc: object) -> None:
        if self._json_saved is not None:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()  # a last line without its newline
                except OSError as error:
                    self.write_failed(error)
            sys.stdout, sys.stderr = self._json_saved
        if self._handler is not None:
            logging.getLogger().handlers = self._saved_handlers
            if self._handler is _SHARED_HANDLER:
                _SHARED_HANDLER.capture = None
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved
        if self._file is not None:
            self._file.close()


def tail(path: Path, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of a log file (empty when there is none)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return data.splitlines()[-lines:]
