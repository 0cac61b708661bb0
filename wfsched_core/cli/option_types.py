"""Click types for the numbers commands take: bounded, whole where a count is meant.

The limits are those of :mod:`wfsched_core.base.bounds` (and of the database's columns), so a
value the database or the scheduler would refuse with a traceback is a usage error here:
one line naming the option, exit 2.
"""

from __future__ import annotations

import math
from typing import Any

import click

from wfsched_core.base.bounds import (
    DAY,
    HOUR,
    INT32_MAX,
    INT32_MIN,
    MAX_CONCURRENT,
    MAX_LIMIT,
)
from wfsched_core.cli.completion import ExecutionId, WorkflowName


class FiniteFloatRange(click.FloatRange):
    """A :class:`click.FloatRange` that also refuses ``nan`` and ``inf``."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


EXECUTION_ID = ExecutionId()  # 1 and up, completed in the shell from the newest executions
WORKFLOW = WorkflowName()
LIMIT = click.IntRange(1, MAX_LIMIT)
OFFSET = click.IntRange(0, INT32_MAX)
MAX_CONCURRENT_TYPE = click.IntRange(1, MAX_CONCURRENT)
PRIORITY = click.IntRange(INT32_MIN, INT32_MAX)


def seconds(low: float, high: float = DAY) -> FiniteFloatRange:
    """A finite number of seconds from ``low`` to ``high``."""
    return FiniteFloatRange(low, high)


POLL_INTERVAL = seconds(0.01, HOUR)
GRACE_PERIOD = seconds(0, DAY)
WAIT_HELD = seconds(0, DAY)


class Since(click.ParamType):
    """A point in time for ``--since``: an age back from now (``2h``, ``30d``) or an ISO
    date or time (``2026-12-01``, ``2026-12-01T08:00``; UTC unless it has an offset);
    a naive UTC datetime, as timestamps are stored."""

    name = "since"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        from datetime import datetime, timezone

        from wfsched_core.base.ages import parse_age
        from wfsched_core.base.errors import UsageError
        from wfsched_core.base.records import utcnow

        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            try:
                return utcnow() - parse_age(text, "--since")
            except UsageError:
                self.fail(f"{value!r} is neither an age (2h, 30d) nor an ISO date or time "
                          "(2026-12-01, 2026-12-01T08:00).", param, ctx)
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return moment


SINCE = Since()
