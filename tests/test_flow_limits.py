"""Concurrency keys and rate limits (issue 17), through the real command on SQLite.

The cluster-wide versions (several schedulers on PostgreSQL and MariaDB) are in
``test_multihost_flow_limits.py``; the overlap and window checks are shared from there.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import Wfsched, database_at_revision, wait_until
from test_scheduler_once import max_overlap


def peak_per_key(rows: list, key: str) -> dict[str, int]:
    """The most executions of each ``params[key]`` running at one instant, from the
    executions' own recorded start and finish times."""
    intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for execution in rows:
        intervals[execution.params[key]].append(
            (execution.started_at.timestamp(), execution.finished_at.timestamp()))
    return {value: max_overlap(spans) for value, spans in intervals.items()}


def busiest_window(starts: list[datetime], seconds: float) -> int:
    """The most starts in any half-open window ``[t, t + seconds)``."""
    ordered = sorted(starts)
    width = timedelta(seconds=seconds)
    return max(sum(1 for other in ordered[i:] if other < first + width)
               for i, first in enumerate(ordered))


def test_four_keys_two_at_once_each_on_one_scheduler(wf: Wfsched, work_dir: Path) -> None:
    ids = [i for n in range(12) for i in wf.trigger(
        "per_customer", customer=f"c{n % 3}", seconds=0.6, dir=work_dir)]
    result = wf.run("scheduler", "--once", "--max-concurrent", "8", timeout=180)
    assert "ran 12 execution(s): 12 completed" in result.stdout, result.stdout
    rows = [wf.execution(i) for i in ids]
    # two per key at once, never three, although 8 slots were free
    assert peak_per_key(rows, "customer") == {"c0": 2, "c1": 2, "c2": 2}
    assert {r.concurrency_key for r in rows} == {"c0", "c1", "c2"}


def test_a_waiting_execution_says_why_in_list_and_show(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config("[workflows.per_customer]\nconcurrency_per_key = 1\n")
    first, second = (wf.trigger("per_customer", customer="acme", seconds=30,
                                dir=work_dir)[0] for _ in range(2))
    scheduler = wf.popen("scheduler", "--max-concurrent", "4")
    try:
        wf.wait_for_status(first, "running", timeout=60)
        waiting = wait_until(lambda: wf.execution(second).wait_reason, 30,
                             "the second execution to be held with a reason")
        assert waiting == "concurrency key 'acme': 1 of 1 already running"
        listed = wf.run("executions", "list").stdout
        line = next(x for x in listed.splitlines() if x.startswith(f"{second} "))
        assert "waiting: concurrency key 'acme': 1 of 1 already running" in line
        shown = wf.run("executions", "show", str(second)).stdout
        assert "wait_reason: concurrency key 'acme'" in shown
        assert "concurrency_key: acme" in shown
        assert wf.execution(second).status.value == "pending"
    finally:
        scheduler.terminate()
        scheduler.wait(60)


def test_a_callable_key_groups_executions(wf: Wfsched, work_dir: Path) -> None:
    ids = [i for region in ("EU", "eu", "Eu", "us") for i in wf.trigger(
        "per_region", region=region, seconds=0.5, dir=work_dir)]
    wf.run("scheduler", "--once", "--max-concurrent", "4", timeout=120)
    rows = [wf.execution(i) for i in ids]
    assert [r.concurrency_key for r in rows] == ["eu", "eu", "eu", "us"]
    eu = [(r.started_at.timestamp(), r.finished_at.timestamp()) for r in rows[:3]]
    assert max_overlap(eu) == 1  # one at a time per region, whatever the case


def test_a_rate_limit_spreads_starts_on_one_scheduler(wf: Wfsched, work_dir: Path) -> None:
    ids = wf.trigger("rated", count=12, seconds=0, dir=work_dir)
    result = wf.run("scheduler", "--once", "--max-concurrent", "10", timeout=120)
    assert "ran 12 execution(s): 12 completed" in result.stdout, result.stdout
    starts = [wf.execution(i).started_at for i in ids]
    assert busiest_window(starts, 2.0) == 5


def test_a_dependent_gets_its_key_when_claimed(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config('[workflows.per_customer]\ndepends_on = ["mark"]\n')
    (upstream,) = wf.trigger("mark", customer="zed", dir=work_dir)
    wf.run("scheduler", "--once", timeout=120)
    (dependent,) = [e for e in wf.store.list_executions() if e.workflow == "per_customer"]
    assert dependent.triggered_by == upstream
    assert (dependent.status.value, dependent.concurrency_key) == ("completed", "zed")


@pytest.mark.parametrize(("command", "config", "message"), [
    ("trigger", 'rate_limit = "ten"', "[workflows.rated] rate_limit must be COUNT/UNIT like "
     '"10/minute", "5/2s" or "100/hour" (units: second, minute, hour, day, or s, m, h, d), '
     "not 'ten'"),
    ("scheduler", 'rate_limit = "ten"', "[workflows.rated] rate_limit must be COUNT/UNIT"),
    ("workflows", 'rate_limit = "0/minute"', "[workflows.rated] rate_limit must allow 1 to"),
    ("trigger", "rate_limit = 10", "[workflows.rated] rate_limit must be COUNT/UNIT"),
    ("trigger", "concurrency_per_key = 0",
     "[workflows.rated] concurrency_per_key must be a whole number from 1 to 10000, not 0"),
    ("scheduler", "concurrency_per_key = 0", "[workflows.rated] concurrency_per_key must be"),
    ("workflows", 'concurrency_key = ""',
     "[workflows.rated] concurrency_key must be a parameter name or a callable"),
])
def test_a_bad_limit_is_one_line_and_exit_2(wf: Wfsched, command: str, config: str,
                                            message: str) -> None:
    wf.write_config(f"[workflows.rated]\n{config}\n")
    args = {"trigger": ["trigger", "rated"], "scheduler": ["scheduler", "--once"],
            "workflows": ["workflows", "list"]}[command]
    result = wf.run(*args, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_from_0003_keeps_executions_and_keys_them_when_claimed(
        home: Path, testworkflows_path: Path) -> None:
    url = database_at_revision(home, "0003", status="pending",
                               params=json.dumps({"customer": "old"}))
    wf = Wfsched(home, url, [testworkflows_path])
    try:
        wf.run("db", "upgrade")
        wf.write_config('[workflows.noop]\nconcurrency_key = "customer"\n')
        (row,) = wf.json("executions", "list")
        assert wf.json("executions", "show", str(row["id"]))["concurrency_key"] is None
        (new,) = wf.trigger("noop", customer="new")
        assert wf.execution(new).concurrency_key == "new"
        wf.run("scheduler", "--once", timeout=120)
        # the old one was keyed by its claim and ran like the new one
        old = wf.execution(row["id"])
        assert (old.status.value, old.concurrency_key) == ("completed", "old")
        assert wf.execution(new).status.value == "completed"
    finally:
        wf.close()


def test_a_flood_of_one_key_does_not_hide_another_key(wf: Wfsched, work_dir: Path) -> None:
    flood = wf.trigger("per_customer", count=30, customer="big", seconds=0.3, dir=work_dir)
    (small,) = wf.trigger("per_customer", customer="small", seconds=0, dir=work_dir)
    wf.write_config("[workflows.per_customer]\nconcurrency_per_key = 1\n")
    wf.run("scheduler", "--once", "--max-concurrent", "2", timeout=180)
    big_starts = sorted(wf.execution(i).started_at for i in flood)
    # queued behind 30 of another key, more than one claim reads at once, it still ran
    # beside the first of them rather than after them all
    assert wf.execution(small).started_at < big_starts[3]


def test_a_key_callable_that_fails_refuses_the_trigger(wf: Wfsched) -> None:
    result = wf.run("trigger", "per_region", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("wfsched: error: cannot queue per_region: its "
                                     "concurrency_key failed on these params: KeyError: "
                                     "'region'")
    assert wf.store.list_executions() == []


def test_limits_from_the_config_override_the_class_and_are_listed(wf: Wfsched) -> None:
    wf.write_config('[workflows.per_customer]\nconcurrency_per_key = 3\n'
                    'rate_limit = "2/second"\n[workflows.rated]\nconcurrency_key = "who"\n')
    listed = {w["name"]: w for w in wf.json("workflows", "list")}
    limits = ("concurrency", "concurrency_key", "concurrency_per_key", "rate_limit")
    assert [listed["per_customer"][k] for k in limits] == [None, "customer", 3, "2/second"]
    assert [listed["rated"][k] for k in limits] == [None, "who", 1, "5/2s"]
    assert listed["per_region"]["concurrency_key"] == "<callable PerRegion.<lambda>>"
    assert listed["noop"]["concurrency_key"] is None


def test_once_lists_an_execution_a_rate_limit_holds_for_long(wf: Wfsched) -> None:
    wf.write_config('[workflows.noop]\nrate_limit = "1/hour"\n')
    first, second = wf.trigger("noop", count=2)
    result = wf.run("scheduler", "--once", check=False, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr  # only held work is left
    assert wf.execution(first).status.value == "completed"
    held = wf.execution(second)
    assert held.status.value == "pending"
    # it may start an hour after the first one started (counted from its claim, which
    # comes just before its recorded start)
    ran = wf.execution(first)
    assert ran.created_at + timedelta(minutes=59) < held.not_before \
        <= ran.started_at + timedelta(hours=1)
    line = next(x for x in result.stdout.splitlines() if x.startswith("held:"))
    assert line.startswith(f"held: noop #{second}: not before ")
    assert "(rate limit 1 per hour: may start at " in line
