"""Re-running from a step (issue 20), through the real command: a new execution linked to
the old one reuses the recorded results of the steps before it (their side effects do not
happen again) and refuses, with the reason, a step whose result was not JSON."""

from __future__ import annotations

from pathlib import Path

from helpers import Wfsched


def _failed_three_step_run(wf: Wfsched, work_dir: Path) -> tuple[int, Path, Path]:
    side_effects = work_dir / "extract.txt"
    blocker = work_dir / "transform-not-ready"
    blocker.touch()
    (execution_id,) = wf.trigger("three_steps", dir=work_dir, file=side_effects,
                                 fail_while=blocker)
    assert wf.run("scheduler", "--once", check=False).returncode == 1
    assert wf.execution(execution_id).status.value == "failed"
    return execution_id, side_effects, blocker


def test_rerun_from_the_failed_step_reuses_the_first_steps_result(
        wf: Wfsched, work_dir: Path) -> None:
    old_id, side_effects, blocker = _failed_three_step_run(wf, work_dir)
    blocker.unlink()
    result = wf.run("rerun", str(old_id))
    new_id = int(result.stdout)
    assert f"re-runs execution {old_id} of three_steps from step transform" in result.stderr
    wf.run("scheduler", "--once")

    assert side_effects.read_text() == f"extract {old_id}\n"  # step 1 ran once, in the old run
    new = wf.json("executions", "show", str(new_id))
    assert (new["status"], new["rerun_of"], new["trigger"], new["resume_from"]) == (
        "completed", old_id, "rerun", 2)
    assert new["params"] == wf.json("executions", "show", str(old_id))["params"]
    assert [(s["name"], s["status"], s["result"]) for s in new["steps"]] == [
        ("extract", "completed", {"rows": 41}), ("transform", "completed", {"rows": 42}),
        ("load", "completed", None)]
    (transform,) = wf.records(work_dir, "transform")
    assert transform["execution_id"] == new_id
    assert transform["results"] == {"extract": {"rows": 41}}
    (load,) = wf.records(work_dir, "load")
    assert load["results"] == {"extract": {"rows": 41}, "transform": {"rows": 42}}
    assert f"rerun_of:    {old_id}" in wf.run("executions", "show", str(new_id)).stdout


def test_rerun_from_a_named_step_and_the_mistakes_it_refuses(
        wf: Wfsched, work_dir: Path) -> None:
    old_id, side_effects, blocker = _failed_three_step_run(wf, work_dir)
    blocker.unlink()
    unknown = wf.run("rerun", str(old_id), "--from-step", "nope", check=False)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == ("wfsched: error: --from-step: three_steps has no step "
                                      "'nope' (its steps: extract, transform, load)")
    too_late = wf.run("rerun", str(old_id), "--from-step", "load", check=False)
    assert too_late.returncode == 1
    assert "step 2 (transform) did not complete in it (transform failed)" in too_late.stderr
    new_id = int(wf.run("rerun", str(old_id), "--from-step", "extract").stdout)
    wf.run("scheduler", "--once")
    assert wf.execution(new_id).status.value == "completed"
    assert side_effects.read_text() == f"extract {old_id}\nextract {new_id}\n"
    done = wf.run("rerun", str(new_id), check=False)
    assert done.returncode == 1 and "completed every step; name the step" in done.stderr
    pending_id = wf.trigger("three_steps", file=side_effects)[0]
    active = wf.run("rerun", str(pending_id), check=False)
    assert active.returncode == 1
    assert "is pending; only an ended execution can be re-run" in active.stderr


def test_rerun_refuses_a_result_that_was_not_json(wf: Wfsched) -> None:
    (execution_id,) = wf.trigger("not_json_first")
    assert wf.run("scheduler", "--once", check=False).returncode == 1
    (connect, use) = wf.json("executions", "show", str(execution_id))["steps"]
    assert connect["status"] == "completed" and connect["result_json"] is False
    refused = wf.run("rerun", str(execution_id), check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"wfsched: error: cannot re-run execution {execution_id} from step use: the result "
        "of step connect was not JSON (only its repr was recorded), so it cannot be "
        "reused; re-run from step connect or earlier, or return JSON from it")
    assert [e["id"] for e in wf.json("executions", "list")] == [execution_id]  # none queued
    from_start = wf.run("rerun", str(execution_id), "--from-step", "connect")
    assert int(from_start.stdout) > execution_id
