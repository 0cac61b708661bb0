"""What the scheduler's stderr and the execution logs say, read from real runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import Wfsched

FINISHED = re.compile(r"WARNING wfsched_core\.scheduler\.outcome_log: finished (\w+) #(\d+): "
                      r"failed after \d+\.\d\ds: (.*)$")


def test_each_failed_execution_is_one_line_on_the_schedulers_stderr(
        wf: Wfsched, work_dir: Path) -> None:
    failing = wf.trigger("chatty", count=2, fail="1")
    (killed,) = wf.trigger("crash", dir=work_dir)
    (fine,) = wf.trigger("noop")
    result = wf.run("scheduler", "--once", check=False)  # the default verbosity
    assert result.returncode == 1
    lines = [FINISHED.search(line) for line in result.stderr.splitlines()]
    found = {int(m.group(2)): (m.group(1), m.group(3)) for m in lines if m}
    assert found == {failing[0]: ("chatty", "ValueError: <b>bad</b> input"),
                     failing[1]: ("chatty", "ValueError: <b>bad</b> input"),
                     killed: ("crash", found.get(killed, ("", ""))[1])}
    assert found[killed][1].startswith("worker ") and "without recording a final status" \
        in found[killed][1]
    assert f"#{fine}" not in result.stderr  # completed: INFO, shown with -v
    assert "Traceback" not in result.stderr  # the error's first line, not its detail
    verbose = wf.run("-v", "scheduler", "--once", check=False)
    assert verbose.returncode == 0 and "finished" not in verbose.stderr  # nothing ran


def test_json_logs_name_the_execution_in_every_record(wf: Wfsched) -> None:
    (completed,) = wf.trigger("noop")
    (failed,) = wf.trigger("chatty", fail="1")
    result = wf.run("-v", "--log-format", "json", "scheduler", "--once", check=False)
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    for execution_id in (completed, failed):  # every line about an execution names it
        about = [r for r in records if re.search(rf"#{execution_id}\b", r["message"])]
        assert len(about) >= 2 and all(r.get("execution_id") == execution_id
                                       for r in about), about
    ours = [r for r in records if r["logger"] == "wfsched_core.scheduler.outcome_log"]
    started = {r["execution_id"]: r for r in ours if r["message"].startswith("started ")}
    assert set(started) == {completed, failed}
    assert started[failed]["workflow"] == "chatty" and started[failed]["pid"] > 0
    finished = {r["execution_id"]: r for r in ours if r["message"].startswith("finished ")}
    assert set(finished) == {completed, failed}
    ok, bad = finished[completed], finished[failed]
    assert (ok["level"], ok["workflow"], ok["status"], ok["error"]) == (
        "info", "noop", "completed", None)
    assert (bad["level"], bad["workflow"], bad["status"], bad["error"]) == (
        "warning", "chatty", "failed", "ValueError: <b>bad</b> input")
    for record in (ok, bad):
        assert record["duration_seconds"] >= 0 and record["attempt"] == 1
    assert bad["exit_code"] == 1 and ok["exit_code"] == 0

    # the execution's own log follows --log-format: one JSON object per line, each
    # naming the execution, what the workflow printed included
    log_lines = (wf.home / "logs" / f"{failed}.log").read_text().splitlines()
    records = [json.loads(line) for line in log_lines]
    messages = {r["message"]: r for r in records}
    assert messages["log record from step talk"]["logger"] == "wfsched.workflow.chatty"
    printed = messages["stdout line: <script>alert(1)</script>"]
    assert (printed["logger"], printed["level"]) == ("stdout", "info")
    assert (messages["stderr line"]["logger"], messages["stderr line"]["level"]) == (
        "stderr", "warning")
    assert any(m.startswith(f"running chatty #{failed} attempt 1") for m in messages)
    assert all(r["execution_id"] == failed for r in records), records
    assert all(r["time"].endswith("Z") for r in records)


def test_execution_logs_stay_text_by_default(wf: Wfsched) -> None:
    (execution_id,) = wf.trigger("chatty")
    wf.run("scheduler", "--once")
    text = (wf.home / "logs" / f"{execution_id}.log").read_text()
    assert "INFO    wfsched.workflow.chatty: log record from step talk" in text
    assert not any(line.startswith("{") for line in text.splitlines())
