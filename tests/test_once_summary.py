"""The ``scheduler --once`` summary line: what running side by side gained, said only
when it gained something (short executions cost less than starting them; their summed
run times below the wall time is no slowdown and must not read as one)."""

from __future__ import annotations

import re

from helpers import Wfsched

from wfsched_core.cli.once_progress import side_by_side_note


def test_executions_one_at_a_time_print_no_comparison(wf: Wfsched) -> None:
    wf.trigger("noop", count=3)
    # one at a time, the run times add up to less than the wall time, by construction
    result = wf.run("scheduler", "--once", "--max-concurrent", "1")
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("ran ")]
    assert re.fullmatch(r"ran 3 execution\(s\): 3 completed, 0 failed, 0 cancelled "
                        r"in \d+\.\d\ds", line), line
    assert "speed-up" not in result.stdout and "one after another" not in result.stdout


def test_the_comparison_says_what_it_compares_when_they_overlapped() -> None:
    assert side_by_side_note(10.36, 2.19) == (
        "; their own run times add up to 10.36s (4.7x the wall time: they ran side by side)")


def test_no_comparison_when_the_run_times_add_up_to_less_than_the_wall_time() -> None:
    assert side_by_side_note(0.23, 2.75) == ""
    assert side_by_side_note(1.0, 1.0) == ""
    assert side_by_side_note(0.0, 0.0) == ""
