"""The ``celery`` spawner with real parts: a Redis broker started by the test, PostgreSQL
as the shared store, and ``wfsched celery-worker`` processes on hosts of their own."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from celery_hosts import CeleryHosts
from helpers import Wfsched

pytestmark = [pytest.mark.servers, pytest.mark.slow]
POSTGRESQL = pytest.mark.parametrize("db_kind", ["postgresql"])


def _max_in_flight(intervals: list[tuple[datetime, datetime]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    in_flight = peak = 0
    for _, change in events:
        in_flight += change
        peak = max(peak, in_flight)
    return peak


@POSTGRESQL
def test_sixty_executions_run_once_on_both_hosts_within_the_limit(
        db_kind: str, wf: Wfsched, work_dir: Path, celery_hosts: CeleryHosts) -> None:
    # noop is routed to a queue of its own, which only host B consumes
    wf.write_config('[workflows.noop]\nqueue = "b-only"\n')
    celery_hosts.start("host-a", concurrency=4)
    celery_hosts.start("host-b", concurrency=4, queues=("wfsched", "b-only"))
    ids = (wf.trigger("mark", count=30, dir=work_dir, seconds=0.2)
           + wf.trigger("noop", count=15)
           + wf.trigger("interval", count=15, seconds=0.2))
    result = wf.run("scheduler", "--spawner", "celery", "--max-concurrent", "6", "--once",
                    check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    executions = [wf.execution(i) for i in ids]
    assert {e.status.value for e in executions} == {"completed"}
    assert {e.spawner for e in executions} == {"celery"}
    assert {e.host for e in executions} == {"host-a", "host-b"}, "one host ran nothing"
    ran = wf.records(work_dir, "ran")
    assert sorted(r["execution_id"] for r in ran) == sorted(ids[:30]), "ran twice or not"
    assert {r["host"] for r in ran} <= {"host-a", "host-b"}
    assert {e.host for e in executions if e.workflow == "noop"} == {"host-b"}
    shown = wf.json("executions", "show", str(ids[0]))
    assert shown["spawner"] == "celery" and shown["host"] in ("host-a", "host-b"), shown
    peak = _max_in_flight([(e.started_at, e.finished_at) for e in executions])
    assert peak <= 6, f"{peak} executions ran at once with --max-concurrent 6"


def test_a_bad_broker_url_is_one_line_and_exit_2(wf: Wfsched) -> None:
    wf.write_config('[spawner.celery]\nbroker_url = "http://user:secret@example.invalid/"\n')
    result = wf.run("scheduler", "--spawner", "celery", "--once", check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad Celery broker URL" in lines[0], result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_broker_is_one_line_and_exit_2(wf: Wfsched) -> None:
    from celery_hosts import free_port

    wf.extra_env["WFSCHED_CELERY_BROKER_URL"] = f"redis://:pw@127.0.0.1:{free_port()}/0"
    wf.write_config("[spawner.celery]\nconnect_timeout = 1\n")
    result = wf.run("scheduler", "--spawner", "celery", "--once", check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Celery broker" in lines[0], result.stderr
    assert ":pw@" not in result.stderr and "Traceback" not in result.stderr
