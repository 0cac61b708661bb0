"""Ages a person types (``30d``, ``12h``): ``prune --older-than``, ``retention``,
``executions list --since``.

In ``base`` so that the quick commands (``executions list``) parse them without
importing the store's SQL layer; the parsing itself is ``durations``' (one parser for
every such value).
"""

from __future__ import annotations

from datetime import timedelta

from wfsched_core.base.durations import EXAMPLES, parse_duration
from wfsched_core.base.errors import UsageError


def parse_age(text: str, what: str = "--older-than") -> timedelta:
    """``"30d"``, ``"12h"``, ``"2w"``, ``"90m"``, ``"45s"`` as a timedelta (must be > 0)."""
    try:
        return timedelta(seconds=parse_duration(str(text)))
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not an age like {EXAMPLES} "
                         "(of at most 100 years)") from None
