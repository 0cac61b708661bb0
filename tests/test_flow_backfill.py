"""``wfsched backfill`` (issue 17, item 4) and ``wfsched workflows show`` (item 5),
through the real command."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from helpers import Wfsched

PARIS_DAILY = '[workflows.mark]\nschedule = "30 2 * * *"\ntimezone = "Europe/Paris"\n' \
              'concurrency = 1\n'
# 2026-10-25: Paris falls back from 03:00 CEST to 02:00 CET, so 02:30 happens twice (the
# daily run runs once, at the first); 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:30
# does not exist (it runs at 03:00 CEST, the first instant after the gap).
FALL_WEEK_UTC = ["2026-10-22T00:30", "2026-10-23T00:30", "2026-10-24T00:30",
                 "2026-10-25T00:30", "2026-10-26T01:30", "2026-10-27T01:30",
                 "2026-10-28T01:30"]


def _backfilled(wf: Wfsched, workflow: str) -> list:
    return sorted((e for e in wf.store.list_executions(workflow=workflow, limit=1000)
                   if e.trigger.value == "backfill"), key=lambda e: e.scheduled_for)


def test_backfill_over_a_dst_week_in_paris_queues_each_tick_once(
        wf: Wfsched, work_dir: Path) -> None:
    wf.write_config(PARIS_DAILY)
    args = ("backfill", "mark", "--from", "2026-10-22", "--to", "2026-10-28")
    planned = wf.json(*args, "--dry-run")
    assert [t["scheduled_for"][:16] for t in planned["ticks"]] == FALL_WEEK_UTC
    assert planned["ticks"][3]["local"] == "2026-10-25T02:30+02:00"
    assert planned["ticks"][4]["local"] == "2026-10-26T02:30+01:00"
    assert _backfilled(wf, "mark") == []  # a dry run queues nothing

    first = wf.json(*args)
    queued = [t["queued_id"] for t in first["ticks"]]
    assert None not in queued and len(set(queued)) == 7
    rows = _backfilled(wf, "mark")
    assert [r.scheduled_for.isoformat()[:16] for r in rows] == FALL_WEEK_UTC
    assert {r.status.value for r in rows} == {"pending"}

    again = wf.run(*args).stdout
    assert "7 tick(s) in the window; 0 queued" in again
    assert len(_backfilled(wf, "mark")) == 7

    # the runs are ordinary executions under the workflow's limits: concurrency = 1
    wf.run("scheduler", "--once", "--max-concurrent", "4")
    rows = _backfilled(wf, "mark")
    assert {r.status.value for r in rows} == {"completed"}
    spans = sorted((r.started_at, r.finished_at) for r in rows)
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:], strict=False))
    # and a tick that ran is never queued again, even by a wider window
    wider = wf.json("backfill", "mark", "--from", "2026-10-21", "--to", "2026-10-29")
    assert [t["queued_id"] is not None for t in wider["ticks"]] == \
        [True] + [False] * 7 + [True]


def test_backfill_hourly_across_both_dst_changes_and_a_spring_gap(wf: Wfsched) -> None:
    wf.write_config(PARIS_DAILY + '[workflows.noop]\nschedule = "0 * * * *"\n'
                    'timezone = "Europe/Paris"\n')
    fall_day = wf.json("backfill", "noop", "--from", "2026-10-25", "--to", "2026-10-25",
                       "--dry-run")
    assert len(fall_day["ticks"]) == 25  # every real hour of a 25-hour day
    spring_day = wf.json("backfill", "noop", "--from", "2026-03-29", "--to", "2026-03-29",
                         "--dry-run")
    assert len(spring_day["ticks"]) == 23
    spring = wf.json("backfill", "mark", "--from", "2026-03-29", "--to", "2026-03-29",
                     "--dry-run")
    assert [t["local"] for t in spring["ticks"]] == ["2026-03-29T03:00+02:00"]
    # an instant window, inclusive at both ends, in the workflow's timezone
    hours = wf.json("backfill", "noop", "--from", "2026-10-25T01:00", "--to",
                    "2026-10-25T03:00", "--dry-run")
    assert [t["local"] for t in hours["ticks"]] == [
        "2026-10-25T01:00+02:00", "2026-10-25T02:00+02:00", "2026-10-25T02:00+01:00",
        "2026-10-25T03:00+01:00"]


@pytest.mark.parametrize(("args", "message"), [
    (("mark", "--from", "2026-11-07", "--to", "2026-11-01"),
     "--from 2026-11-07 is after --to 2026-11-01"),
    (("no_such_flow", "--from", "2026-11-01", "--to", "2026-11-07"),
     "unknown workflow 'no_such_flow'"),
    (("mark", "--from", "2026-11-31", "--to", "2026-12-01"),
     "--from '2026-11-31' is not a date"),
    (("mark", "--from", "2026-11-01", "--to", "next week"), "--to 'next week' is not a date"),
    (("noop", "--from", "2026-11-01", "--to", "2026-11-07"), "'noop' has no schedule"),
    (("mark", "--from", "2099-01-01", "--to", "2099-01-02"), "is in the future"),
    (("mark", "--from", "1990-01-01", "--to", "2026-11-01"), "more than 10000 ticks"),
    (("mark", "--to", "2026-11-01"), "Missing option '--from'"),
])
def test_bad_backfill_input_is_one_line_and_exit_2(wf: Wfsched, args: tuple[str, ...],
                                                   message: str) -> None:
    wf.write_config(PARIS_DAILY)
    result = wf.run("backfill", *args, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_workflows_show_gathers_one_workflow(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config(PARIS_DAILY.replace("concurrency = 1", "concurrency = 2\ntimeout = 60\n"
                                        "secret_params = [\"token\"]"))
    (done,) = wf.trigger("mark", dir=work_dir, token="s3cret")
    wf.run("scheduler", "--once")
    (waiting,) = wf.trigger("mark", dir=work_dir)
    wf.run("pause", "mark", "--reason", "audit")

    shown = wf.json("workflows", "show", "mark")
    assert shown["name"] == "mark" and shown["steps"] == ["mark"]
    assert shown["schedule"] == "30 2 * * *" and shown["timezone"] == "Europe/Paris"
    assert shown["schedule_text"] == "every day at 02:30"
    assert len(shown["next_runs"]) == 5
    first = shown["next_runs"][0]
    assert first["local"].endswith(("T02:30+01:00", "T02:30+02:00"))
    assert datetime.fromisoformat(first["at"].rstrip("Z")) > datetime(2026, 1, 1)
    assert shown["limits"] == {"concurrency": 2, "timeout": 60}
    assert shown["attributes"]["retries"] == 0 and shown["attributes"]["catchup"] == "latest"
    assert shown["paused"]["reason"] == "audit" and "@" in shown["paused"]["paused_by"]
    assert shown["pending"] == 1 and shown["running"] == 0
    assert [e["id"] for e in shown["recent_executions"]] == [waiting, done]
    assert shown["recent_executions"][1]["status"] == "completed"
    assert shown["recent_executions"][1]["params"]["token"] == "***"
    assert shown["recent_executions"][0]["wait_reason"].startswith("paused: audit (by ")
    assert shown["last_status"] == "completed"

    text = wf.run("workflows", "show", "mark").stdout
    assert "every day at 02:30 (30 2 * * *, Europe/Paris)" in text
    assert "PAUSED:       by " in text and ": audit" in text
    assert "s3cret" not in text

    missing = wf.run("workflows", "show", "no_such_flow", check=False)
    assert missing.returncode == 2
    assert missing.stderr.startswith("wfsched: error: unknown workflow 'no_such_flow'")
