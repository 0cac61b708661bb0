"""When the next attempt of a failed execution may start (exponential backoff with jitter)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from wfsched_core.authoring.workflow import WorkflowSpec
from wfsched_core.base.records import utcnow

# No single wait between attempts exceeds this, whatever the backoff says.
MAX_RETRY_DELAY = 3600.0
# Up to this fraction of the delay is added at random, so retries of many failed
# executions do not all land in the same second.
JITTER = 0.1


def next_attempt_at(
    spec: WorkflowSpec | None, attempt: int, now: datetime | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """The earliest start of attempt ``attempt + 1``, or None when retries are used up.

    ``attempt`` is the number of the attempt that just failed (1 for the first try);
    a workflow with ``retries = 2`` runs at most 3 times, crashes counted.
    """
    if spec is None or attempt > spec.retries:
        return None
    delay = spec.retry_delay * (spec.retry_backoff ** (attempt - 1))
    delay = min(delay, MAX_RETRY_DELAY)
    if delay > 0:
        delay += delay * JITTER * (rng or random).random()
    return (now or utcnow()) + timedelta(seconds=delay)
