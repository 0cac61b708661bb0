"""What the absence of an execution's log file means, said the same way everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfsched_core.base.errors import MissingLogError

if TYPE_CHECKING:
    from pathlib import Path

    from wfsched_core.base.records import Execution


def missing_log_error(execution: Execution, path: Path) -> MissingLogError:
    """The error for an execution whose log file ``path`` does not exist."""
    if execution.started_at is None:
        if execution.status.is_final:
            return MissingLogError(f"execution {execution.id} has no log: it was "
                                   f"{execution.status.value} before it started")
        return MissingLogError(f"execution {execution.id} has no log yet: it is "
                               f"{execution.status.value}")
    return MissingLogError(
        f"execution {execution.id} has no log file at {path}: it was removed (prune, "
        "by hand) or this command uses another WFSCHED_HOME than the scheduler that ran it")
