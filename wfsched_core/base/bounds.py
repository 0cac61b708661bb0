"""The range and kind of every number a user can set: in ``wfsched.toml`` and as options.

One table per place a number comes from (``[scheduler]``, ``[workflows.NAME]``), so that
a count is a whole number, a duration is finite, and nothing reaches the database or a
``timedelta`` that either would refuse with a traceback. The command-line option types in
:mod:`wfsched_core.cli.option_types` use the same limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MINUTE = 60
HOUR = 3600
DAY = 24 * HOUR
YEAR = 365 * DAY

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1  # priority, attempt: INTEGER columns
MAX_EXECUTION_ID = 2**63 - 1  # BIGINT on the servers, INTEGER (64 bits) on SQLite
MAX_CONCURRENT = 10_000  # workers of one scheduler
MAX_LIMIT = 1_000_000  # rows a listing asks for
MAX_FORK_SPARES = 32


@dataclass(frozen=True)
class Bound:
    """A number from ``low`` to ``high`` (inclusive); ``whole`` for counts."""

    low: float
    high: float
    whole: bool = False
    unit: str = ""

    def describe(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        if self.unit:
            kind += f" of {self.unit}"
        return f"{kind} from {_plain(self.low)} to {_plain(self.high)}"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not such a number (``must be ...``), or None when it is."""
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (not numeric or (self.whole and not isinstance(value, int))
                or (isinstance(value, float) and not math.isfinite(value))
                or not self.low <= value <= self.high):
            return f"must be {self.describe()}, not {_shown(value)}"
        return None


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# [scheduler]: keys with a number; the other keys are strings (see config.py)
SCHEDULER_BOUNDS: dict[str, Bound] = {
    "max_concurrent": Bound(1, MAX_CONCURRENT, whole=True),
    "poll_interval": Bound(0.01, HOUR, unit="seconds"),
    "heartbeat_interval": Bound(0.05, HOUR, unit="seconds"),
    "heartbeat_timeout": Bound(0.1, DAY, unit="seconds"),
    "grace_period": Bound(0, DAY, unit="seconds"),
    "kill_grace": Bound(0, HOUR, unit="seconds"),
    "notify_budget": Bound(0.01, HOUR, unit="seconds"),
    "notify_backoff": Bound(0, DAY, unit="seconds"),
    "fork_spares": Bound(0, MAX_FORK_SPARES, whole=True),
}

# Workflow attributes with a number (class attribute or [workflows.NAME] key)
WORKFLOW_BOUNDS: dict[str, Bound] = {
    "start_deadline": Bound(0.001, 10 * YEAR, unit="seconds"),
    "concurrency": Bound(1, MAX_CONCURRENT, whole=True),
    "concurrency_per_key": Bound(1, MAX_CONCURRENT, whole=True),
    "priority": Bound(INT32_MIN, INT32_MAX, whole=True),
    "retries": Bound(0, 1000, whole=True),
    "retry_delay": Bound(0, YEAR, unit="seconds"),
    "retry_backoff": Bound(1, 100),
    "timeout": Bound(0.001, 10 * YEAR, unit="seconds"),
    "nice": Bound(-20, 19, whole=True),
}
