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
    MAX_EXECUTION_ID,
    MAX_LIMIT,
)


class FiniteFloatRange(click.FloatRange):
    """A :class:`click.FloatRange` that also refuses ``nan`` and ``inf``."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


EXECUTION_ID = click.IntRange(1, MAX_EXECUTION_ID)
LIMIT = click.IntRange(1, MAX_LIMIT)
MAX_CONCURRENT_TYPE = click.IntRange(1, MAX_CONCURRENT)
PRIORITY = click.IntRange(INT32_MIN, INT32_MAX)


def seconds(low: float, high: float = DAY) -> FiniteFloatRange:
    """A finite number of seconds from ``low`` to ``high``."""
    return FiniteFloatRange(low, high)


POLL_INTERVAL = seconds(0.01, HOUR)
GRACE_PERIOD = seconds(0, DAY)
WAIT_HELD = seconds(0, DAY)
