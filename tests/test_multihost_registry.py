"""The scheduler registry as recovery reads it: who is alive, however many have died.

A scheduler that crashes (SIGKILL, OOM, power loss) never signs off, so its row stays
without ``stopped_at`` for good. A crash-looping host adds one such row per restart; the
live schedulers must still all be recognised as live, or their running executions would
be taken over as orphans.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from wfsched_core.base.records import SchedulerRow, utcnow
from wfsched_core.scheduler.recovery import live_scheduler_ids
from wfsched_core.store import SqlStore


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql", "mariadb"])
def test_a_live_scheduler_stays_live_behind_many_crashed_ones(db_kind: str,
                                                              database_url: str) -> None:
    store = SqlStore(database_url)
    try:
        store.upgrade()
        now = utcnow()
        # the long-running live scheduler on another host, started first...
        store.register_scheduler(SchedulerRow("live-one", "host-b", 4242,
                                              now - timedelta(hours=5), now, "test"))
        # ...then 150 crashed restarts of host C, each newer, none signed off
        for n in range(150):
            started = now - timedelta(hours=4) + timedelta(minutes=n)
            store.register_scheduler(SchedulerRow(f"crashed-{n:03d}", "host-c", 1000 + n,
                                                  started, started + timedelta(seconds=30),
                                                  "test"))
        live = live_scheduler_ids(store, "me", "host-a", heartbeat_timeout=30)
        assert live == {"me", "live-one"}
    finally:
        store.dispose()
