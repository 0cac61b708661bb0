"""The command line in a terminal: colour, the ``--once`` progress bar's counts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from helpers import Wfsched, run_in_terminal

FRAME = re.compile(r"\] (\d+)/(\d+)  completed (\d+)  failed (\d+)  running (\d+)  "
                   r"pending (\d+)")


def test_once_progress_total_is_the_number_of_executions(wf: Wfsched, work_dir: Path) -> None:
    # 12 executions, 3 at a time: while one is started but has not yet recorded its start
    # it is both "pending" in the table and running here; the bar counted it twice
    # (12 executions shown as 0/15, 3/14, 4/13)
    # a fresh interpreter per worker (exec) makes that window long enough to be seen
    wf.write_config('start_mode = "exec"')
    wf.trigger("mark", count=12, seconds=0.3, dir=work_dir)
    code, output = run_in_terminal(wf, "scheduler", "--once", "--max-concurrent", "3")
    assert code == 0, output
    frames = [tuple(int(n) for n in m.groups()) for m in FRAME.finditer(output)]
    assert len(set(frames)) >= 4, output  # the bar was redrawn as the work went on
    totals = {total for _, total, *_ in frames}
    # never more than there are (a claim between the progress's two reads of the table
    # may hide the few executions it took, 3 at most here, for one redraw)
    assert max(totals) == 12 and min(totals) >= 9, f"totals seen: {sorted(totals)}\n{output}"
    # the parts always add up to the total shown, and never more than 3 run at once
    for done, total, completed, failed, running, pending in frames:
        assert done == completed + failed and done + running + pending == total
        assert running <= 3
    assert any(total == 12 and 0 < done < 12 for done, total, *_ in frames), frames
    assert "ran 12 execution(s): 12 completed" in output


def test_statuses_are_coloured_on_a_terminal_only(wf: Wfsched) -> None:
    (done,) = wf.trigger("noop")
    wf.run("scheduler", "--once")
    (waiting,) = wf.trigger("noop")
    code, output = run_in_terminal(wf, "executions", "list")
    assert code == 0, output
    assert "\x1b[32mcompleted\x1b[0m" in output and "\x1b[33mpending\x1b[0m" in output
    # the columns stay aligned: the escape sequences take no room
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    rows = [line for line in plain.splitlines() if line.split()[:1] in ([str(done)],
                                                                         [str(waiting)])]
    assert len({row.index("manual") for row in rows}) == 1, plain
    code, output = run_in_terminal(wf, "executions", "show", str(done))
    assert code == 0 and "status:      \x1b[32mcompleted\x1b[0m" in output, output
    assert re.search(r"1\. nothing +\x1b\[32mcompleted\x1b\[0m", output), output
    # switched off: NO_COLOR (any value), --no-color; and never through a pipe
    for env, args in (({"NO_COLOR": "1"}, ()), ({}, ("--no-color",))):
        code, output = run_in_terminal(wf, *args, "executions", "list", env=env)
        assert code == 0 and "completed" in output and "\x1b[" not in output, output
    piped = wf.run("executions", "list")
    assert "completed" in piped.stdout and "\x1b[" not in piped.stdout + piped.stderr
    # --color forces it (for `| less -R`), over NO_COLOR too: an option beats the environment
    wf.extra_env["NO_COLOR"] = "1"
    assert "\x1b[32mcompleted" in wf.run("--color", "executions", "list").stdout


def test_executions_list_says_how_many_and_pages(wf: Wfsched) -> None:
    ids = wf.trigger("noop", count=7)
    first = wf.run("executions", "list", "--limit", "3")
    assert _ids(first.stdout) == ids[::-1][:3]
    assert first.stderr.strip() == "showing 3 of 7 (newest first; next: --offset 3)"
    last = wf.run("executions", "list", "--limit", "3", "--offset", "6")
    assert _ids(last.stdout) == [ids[0]]
    assert last.stderr.strip() == "showing 7-7 of 7"
    assert [e["id"] for e in wf.json("executions", "list", "--limit", "2", "--offset", "1")] \
        == ids[::-1][1:3]
    # --since: an age or an ISO time, with the filters counted alike
    recent = wf.run("executions", "list", "--since", "1h", "--workflow", "noop")
    assert _ids(recent.stdout) == ids[::-1] and recent.stderr.strip() == "showing 7 of 7"
    future = wf.run("executions", "list", "--since", "2999-01-01")
    assert _ids(future.stdout) == [] and future.stderr.strip() == "showing none of 0"
    assert wf.run("executions", "list", "--since", "2000-01-01T00:00+02:00",
                  "--status", "completed").stderr.strip() == "showing none of 0"
    bad = wf.run("executions", "list", "--since", "yesterday", check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "'yesterday' is neither an age" in bad.stderr and "Traceback" not in bad.stderr
    negative = wf.run("executions", "list", "--offset", "-1", check=False)
    assert negative.returncode == 2


def _ids(table: str) -> list[int]:
    return [int(line.split()[0]) for line in table.splitlines()[1:]]


def _complete(wf: Wfsched, words: str, shell: str = "bash") -> list[str]:
    """What the shell would offer for the last of ``words`` (click's completion protocol,
    as the script of ``_WFSCHED_COMPLETE=bash_source wfsched`` calls it)."""
    parts = words.split(" ")
    result = subprocess.run(
        wf.argv(), capture_output=True, text=True, timeout=60, cwd=wf.home,
        env={**wf.env, "_WFSCHED_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
             "COMP_CWORD": str(len(parts) - 1)})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_shell_completion_offers_workflow_names_and_execution_ids(wf: Wfsched) -> None:
    assert _complete(wf, "wfsched trigger mar") == ["plain,mark", "plain,mark_twice"]
    assert "plain,noop" in _complete(wf, "wfsched executions list --workflow ")
    ids = wf.trigger("noop", count=3)
    offered = _complete(wf, "wfsched logs ")
    assert offered == [f"plain,{i}" for i in ids[::-1]]
    assert _complete(wf, f"wfsched cancel {ids[1]}") == [f"plain,{ids[1]}"]
    assert _complete(wf, "wfsched executions show ", shell="zsh")[:3] == \
        ["plain", str(ids[-1]), "noop pending"]
    # commands and options complete as click does
    assert "plain,executions" in _complete(wf, "wfsched exe")
    # no database yet: nothing offered, nothing created, no error
    wf.extra_env["WFSCHED_DATABASE_URL"] = f"sqlite:///{wf.home / 'absent.db'}"
    assert _complete(wf, "wfsched logs ") == []
    assert not (wf.home / "absent.db").exists()
