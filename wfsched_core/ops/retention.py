"""Retention: remove old finished executions, their steps and their log files, in batches.

Each batch is one short transaction (``BATCH_SIZE`` rows), so a scheduler sharing the
database is never locked out for longer than one batch takes, even on SQLite where a
write takes the whole database. Pending and running executions are never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from wfsched_core.base.durations import EXAMPLES, parse_duration
from wfsched_core.base.errors import UsageError
from wfsched_core.base.execution_log import log_path
from wfsched_core.base.records import utcnow
from wfsched_core.store.queries import count_steps, delete_finished, prunable_ids

if TYPE_CHECKING:
    from wfsched_core.store import SqlStore

log = logging.getLogger(__name__)

BATCH_SIZE = 500


def parse_age(text: str, what: str = "--older-than") -> timedelta:
    """``"30d"``, ``"12h"``, ``"2w"``, ``"90m"``, ``"45s"`` as a timedelta (must be > 0)."""
    try:
        return timedelta(seconds=parse_duration(str(text)))
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not an age like {EXAMPLES} "
                         "(of at most 100 years)") from None


@dataclass
class PruneResult:
    """What one prune removed (or, in a dry run, would remove)."""

    cutoff: datetime
    dry_run: bool
    execution_ids: list[int] = field(default_factory=list)
    steps: int = 0
    log_files: int = 0
    log_bytes: int = 0

    @property
    def executions(self) -> int:
        return len(self.execution_ids)

    def to_json(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat(timespec="seconds") + "Z",
            "dry_run": self.dry_run,
            "executions": self.executions,
            "steps": self.steps,
            "log_files": self.log_files,
            "log_bytes": self.log_bytes,
            "execution_ids": self.execution_ids,
        }


def prune_finished(store: SqlStore, logs_dir: Path, older_than: timedelta, *,
                   dry_run: bool = False, batch_size: int = BATCH_SIZE,
                   now: datetime | None = None) -> PruneResult:
    """Remove executions that finished more than ``older_than`` ago (or count them)."""
    cutoff = (now or utcnow()) - older_than
    result = PruneResult(cutoff=cutoff, dry_run=dry_run)
    after_id = 0
    while True:
        ids = prunable_ids(store, cutoff, batch_size, after_id=after_id)
        if not ids:
            break
        after_id = ids[-1]
        if dry_run:
            removed, steps = ids, count_steps(store, ids)
        else:
            removed, steps = delete_finished(store, ids, cutoff)
        result.execution_ids.extend(removed)
        result.steps += steps
        for execution_id in removed:
            _remove_log(log_path(logs_dir, execution_id), result, dry_run)
        if len(ids) < batch_size:
            break
    log.info("%s %d execution(s) finished before %s, %d step(s), %d log file(s)",
             "would prune" if dry_run else "pruned", result.executions,
             cutoff.isoformat(timespec="seconds"), result.steps, result.log_files)
    return result


def _remove_log(path: Path, result: PruneResult, dry_run: bool) -> None:
    try:
        size = path.stat().st_size
        if not dry_run:
            path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:  # a log we cannot remove must not stop the prune
        log.warning("could not remove %s: %s", path, exc)
        return
    result.log_files += 1
    result.log_bytes += size
