"""Ages a person types (``30d``, ``12h``): ``prune --older-than``, ``retention``,
``executions list --since``.

In ``base`` so that the quick commands (``executions list``) parse them without
importing the store's SQL layer.
"""

from __future__ import annotations

import re
from datetime import timedelta

from wfsched_core.base.errors import UsageError

MAX_AGE_SECONDS = 100 * 365 * 86400
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_age(text: str, what: str = "--older-than") -> timedelta:
    """``"30d"``, ``"12h"``, ``"2w"``, ``"90m"``, ``"45s"`` as a timedelta (must be > 0)."""
    match = _AGE.match(str(text).lower())
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if not 0 < seconds <= MAX_AGE_SECONDS:  # beyond: no timestamp is that old (overflow)
        raise UsageError(f"{what}: {text!r} is not an age like 30d, 12h, 2w, 90m or 45s "
                         "(of at most 100 years)")
    return timedelta(seconds=seconds)
