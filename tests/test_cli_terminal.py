"""The command line in a terminal: colour, the ``--once`` progress bar's counts."""

from __future__ import annotations

import re
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
    # never more than there are; one less for an instant at most (claimed between two
    # reads, before it is tracked)
    assert totals <= {12, 11}, f"totals seen: {sorted(totals)}\n{output}"
    # the parts always add up to the total shown, and never more than 3 run at once
    for done, total, completed, failed, running, pending in frames:
        assert done == completed + failed and done + running + pending == total
        assert running <= 3
    assert any(total == 12 and 0 < done < 12 for done, total, *_ in frames), frames
    assert "ran 12 execution(s): 12 completed" in output
