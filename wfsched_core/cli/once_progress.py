"""Progress of ``scheduler --once``: a one-line bar in a terminal, log lines otherwise."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

from wfsched_core.cli.output import duration

if TYPE_CHECKING:
    from wfsched_core.scheduler import Scheduler

log = logging.getLogger(__name__)

BAR_WIDTH = 30
TERMINAL_REFRESH = 0.25  # seconds between redraws of the bar
LOG_REFRESH = 10.0  # seconds between progress log lines when not on a terminal


def progress_counts(runner: Scheduler,
                    read_pending: Callable[[], tuple[int, set[int]]]) -> dict[str, int]:
    """Completed, failed, cancelled, running and pending, as ``--once`` has seen them.

    ``read_pending`` returns, from the database, the pending executions this scheduler has
    not claimed (a count) and the ids of those it claimed that are still ``pending`` in the
    table (their worker has not recorded its start). An execution is counted once:
    running when it is tracked or claimed, done when it has an outcome, pending otherwise,
    so the total is the number of executions.

    The order of the reads makes that hold while the scheduler's thread goes on: the
    tracked workers first (one claimed after this copy is in the database's claimed set,
    never in both), the database next, the outcomes last (one that finished meanwhile is
    done, not also running)."""
    tracked = set(runner.tracked)
    unclaimed, claimed = read_pending()
    outcomes = dict(runner.summary.outcomes)
    retried = set(runner.summary.retried)
    counts = {"completed": 0, "failed": 0, "cancelled": 0}
    for execution_id, status in outcomes.items():
        if execution_id not in retried and status.value in counts:
            counts[status.value] += 1
    counts["running"] = len((tracked | claimed) - set(outcomes))
    counts["pending"] = unclaimed
    return counts


def progress_line(counts: dict[str, int]) -> str:
    """``[#########.....]  9/14  completed 8  failed 1  running 3  pending 2``."""
    done = counts["completed"] + counts["failed"] + counts["cancelled"]
    total = done + counts["running"] + counts["pending"]
    filled = BAR_WIDTH * done // total if total else 0
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    text = (f"[{bar}] {done}/{total}  completed {counts['completed']}  "
            f"failed {counts['failed']}  running {counts['running']}  "
            f"pending {counts['pending']}")
    if counts["cancelled"]:
        text += f"  cancelled {counts['cancelled']}"
    return text


def side_by_side_note(busy_seconds: float, wall_seconds: float) -> str:
    """What running side by side gained, for the summary line; empty when it gained
    nothing to speak of.

    It compares the executions' own run times (each from its start to its end, as its
    worker recorded them), added up, with the wall time from the first start to the last
    end. Short executions cost less than starting them, so their sum is below the wall
    time: that is no slowdown (one after another they would have cost the start too), so
    the comparison is left out instead of reading as one.
    """
    if wall_seconds <= 0 or busy_seconds <= wall_seconds:
        return ""
    return (f"; their own run times add up to {duration(busy_seconds)} "
            f"({busy_seconds / wall_seconds:.1f}x the wall time: they ran side by side)")


@contextmanager
def once_progress(runner: Scheduler, stream: IO[str] | None = None) -> Iterator[None]:
    """Show progress while the block runs ``runner``; clear the bar afterwards."""
    stream = stream or sys.stderr
    terminal = stream.isatty()
    stop = threading.Event()
    thread = threading.Thread(target=_report, args=(runner, stream, terminal, stop),
                              name="wfsched-progress", daemon=True)
    clear_line = _ClearLineBeforeLogging(stream)
    handlers = logging.getLogger().handlers[:] if terminal else []
    for handler in handlers:
        handler.addFilter(clear_line)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        for handler in handlers:
            handler.removeFilter(clear_line)
        if terminal:
            stream.write("\r\x1b[K")
            stream.flush()


class _ClearLineBeforeLogging(logging.Filter):
    """Erase the bar before a log line is written, so the line starts clean; the bar is
    drawn again below it at the next refresh."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream

    def filter(self, record: logging.LogRecord) -> bool:
        self.stream.write("\r\x1b[K")
        return True


def _report(runner: Scheduler, stream: IO[str], terminal: bool, stop: threading.Event) -> None:
    last = ""
    while not stop.wait(TERMINAL_REFRESH if terminal else LOG_REFRESH):
        try:
            line = progress_line(progress_counts(
                runner, lambda: runner.store.pending_for_progress(runner.id)))
        except Exception as exc:  # noqa: BLE001 - progress must never stop the run
            log.debug("progress unavailable: %s", exc)
            continue
        if terminal:
            # \r and erase-to-end redraw the same line; log lines may interleave
            stream.write("\r" + line + "\x1b[K")
            stream.flush()
        elif line != last:
            log.info("progress %s", line)
        last = line
