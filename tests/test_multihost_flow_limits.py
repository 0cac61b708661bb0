"""Concurrency keys and rate limits across several schedulers (issue 17).

Real ``wfsched scheduler`` daemons race for the same executions on a fresh PostgreSQL or
MariaDB database; the limits are checked from the times the executions themselves
recorded (``started_at``/``finished_at``), and from the workflows' own clocks.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from helpers import Wfsched
from test_flow_limits import busiest_window, peak_per_key
from test_multihost import SERVERS, Cluster, _ran_once_each, _wait_all_final
from test_multihost import cluster as cluster  # noqa: F401 - the fixture
from test_scheduler_once import max_overlap


@pytest.mark.parametrize("db_kind", SERVERS)
def test_two_per_key_at_once_across_three_schedulers(
        db_kind: str, wf: Wfsched, work_dir: Path, cluster: Cluster) -> None:
    ids = [i for n in range(20) for i in wf.trigger(
        "per_customer", customer=f"k{n % 4}", seconds=1, dir=work_dir)]
    for name in ("a", "b", "c"):
        cluster.start(name, "--max-concurrent", "4")  # 12 slots: only the keys hold back
    cluster.ids()
    rows = _wait_all_final(wf, 20, timeout=300)
    assert Counter(e.status.value for e in rows) == {"completed": 20}
    records = _ran_once_each(wf, work_dir, "interval", ids)
    # the executions' recorded times: never three of a key at once, cluster-wide
    peaks = peak_per_key(rows, "customer")
    assert set(peaks) == {"k0", "k1", "k2", "k3"} and max(peaks.values()) == 2, peaks
    # the workflows' own clocks agree
    by_id = {e.id: e.params["customer"] for e in rows}
    for key in peaks:
        spans = [(r["start"], r["end"]) for r in records if by_id[r["execution_id"]] == key]
        assert max_overlap(spans) <= 2, key
    # keys ran side by side, and the work was shared: the limit was not held by luck
    assert max_overlap([(e.started_at.timestamp(), e.finished_at.timestamp())
                        for e in rows]) > 2
    assert len({e.claimed_by for e in rows}) >= 2


@pytest.mark.parametrize("db_kind", SERVERS)
def test_five_starts_per_two_seconds_across_two_schedulers(
        db_kind: str, wf: Wfsched, work_dir: Path, cluster: Cluster) -> None:
    # runs longer than the window and 3 slots each: a window's 5 starts need both
    # schedulers, so each window is shared between them
    ids = wf.trigger("rated", count=20, seconds=2.5, dir=work_dir)
    for name in ("a", "b"):
        cluster.start(name, "--max-concurrent", "3")
    cluster.ids()
    rows = _wait_all_final(wf, 20, timeout=300)
    assert Counter(e.status.value for e in rows) == {"completed": 20}
    _ran_once_each(wf, work_dir, "interval", ids)
    starts = [e.started_at for e in rows]
    # no window of 2 s holds more than 5 recorded starts (and the limit was reached)
    assert busiest_window(starts, 2.0) == 5
    assert len({e.claimed_by for e in rows}) == 2
