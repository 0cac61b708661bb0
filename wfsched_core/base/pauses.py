"""A paused workflow (``wfsched pause``): who paused it, when and why.

A pause is a row in the database, so that it holds on every scheduler and survives
restarts; this is its record, and the one wording of the hold shown wherever held work is
listed (``executions list``, ``scheduler --once``, ``workflows show``, the dashboard).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wfsched_core.base.records import isoformat

#: the start of every hold a pause puts on a pending execution (its ``wait_reason``)
PAUSED_PREFIX = "paused"


@dataclass(frozen=True)
class Pause:
    """One paused workflow."""

    workflow: str
    reason: str | None
    paused_by: str  # user@host of whoever paused it
    paused_at: datetime  # naive UTC

    @property
    def note(self) -> str:
        """Why the workflow's pending executions wait, in one line."""
        why = f": {self.reason}" if self.reason else ""
        return f"{PAUSED_PREFIX}{why} (by {self.paused_by} since {isoformat(self.paused_at)})"

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "paused_by": self.paused_by,
                "paused_at": isoformat(self.paused_at)}
