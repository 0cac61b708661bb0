"""Durations a person writes: ``"30m"``, ``"24h"``, ``"2w"`` (or a number of seconds).

One parser for every such value (``prune --older-than``, a workflow's ``deadline`` and
``approval_timeout``), so they accept the same words and refuse the same mistakes.
"""

from __future__ import annotations

import math
import re

MAX_SECONDS = 100 * 365 * 86400  # beyond: no timestamp is that old (overflow)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
EXAMPLES = "30d, 12h, 2w, 90m or 45s"


def parse_duration(value: object) -> float:
    """Seconds in ``value`` (a string like ``"30m"``, or a number of seconds); a
    ``ValueError`` naming the accepted forms when it is neither, or not above zero."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).lower())
        seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise ValueError(f"{value!r} is not a duration like {EXAMPLES} (of at most 100 years)")
    return seconds


def describe_seconds(seconds: float) -> str:
    """``86400`` as ``"24h"``: the largest unit that divides it, days from a week on
    (``"24h"``, ``"36h"``, ``"14d"``), seconds otherwise."""
    for unit in ("d", "h", "m"):
        if unit == "d" and seconds < _UNITS["w"]:
            continue
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"
