"""Collisions and removals that are safe, through the real command.

Two distributions announcing one name (tests/packages/wfsched-collide-a and -b, both
``twin``): neither runs until ``[workflows.twin] distribution = ...`` picks one; the other
is a broken row in ``workflows list`` and ``plugins list``. A workflow that is uninstalled
(or broken) while executions of it are pending: they are held with the reason, never
claimed and failed, and run once it is back.

"Installed" here is what it is to wfsched: a distribution whose metadata (entry points)
is on the interpreter's path. Each package is really installed (``pip install --target``,
once per content); uninstalling is running the command without that directory on the
path, reinstalling is running it with it again: exactly what ``importlib.metadata`` sees
after ``pip uninstall`` and ``pip install``, without changing the shared virtualenv that
other tests run in at the same time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import installed_package
from helpers import Wfsched


@pytest.fixture(scope="module")
def collide_a() -> Path:
    return installed_package("wfsched-collide-a")


@pytest.fixture(scope="module")
def collide_b() -> Path:
    return installed_package("wfsched-collide-b")


A_SOURCE = "wfsched-collide-a 1.0.0 (wfsched_collide_a.flows:Twin)"
B_SOURCE = "wfsched-collide-b 1.0.1 (wfsched_collide_b.flows:Twin)"


def _workflows(wf: Wfsched) -> dict[str, dict]:
    return {w["name"]: w for w in wf.json("workflows", "list")}


def _plugins(wf: Wfsched) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for plugin in wf.json("plugins", "list"):
        rows.setdefault(plugin["name"], []).append(plugin)
    return rows


def test_two_distributions_announcing_one_name_run_neither_until_one_is_chosen(
        wf: Wfsched, collide_a: Path, collide_b: Path) -> None:
    # both orders on the path: the rule does not depend on it
    for paths in ([collide_a, collide_b], [collide_b, collide_a]):
        wf.python_paths[1:] = paths
        reason = (f"announced by 2 distributions ({A_SOURCE}; {B_SOURCE}): none runs until "
                  f'you choose one with [workflows.twin] distribution = "..." in '
                  f"{wf.config_path}")
        assert _workflows(wf)["twin"]["broken"] == reason
        listed = _plugins(wf)["workflow twin"]
        assert [(p["distribution"], p["version"], p["error"]) for p in listed] == [
            ("wfsched-collide-a", "1.0.0", reason), ("wfsched-collide-b", "1.0.1", reason)]
        refused = wf.run("trigger", "twin", check=False)
        assert refused.returncode == 2
        assert f"workflow 'twin' is broken: {reason}" in refused.stderr

    # the pin decides (any spelling pip would accept), and the other one says why it lost
    wf.write_config('[workflows.twin]\ndistribution = "WFSCHED_collide.b"\n')
    flows = _workflows(wf)
    lost = (f"name 'twin' is taken by {B_SOURCE}, chosen with [workflows.twin] "
            f"distribution = 'WFSCHED_collide.b' in {wf.config_path}")
    assert flows["twin"]["broken"] is None and flows["twin"]["source"] == B_SOURCE
    assert flows["twin (wfsched-collide-a)"]["broken"] == lost
    assert f"twin (wfsched-collide-a): {lost}" in wf.run("workflows", "list").stdout
    assert [(p["distribution"], p["error"]) for p in _plugins(wf)["workflow twin"]] == [
        ("wfsched-collide-a", lost)]
    (execution_id,) = wf.trigger("twin")
    wf.run("scheduler", "--once")
    assert wf.store.steps(execution_id)[0].result == {"from": "wfsched-collide-b"}


def test_a_pin_naming_a_distribution_that_does_not_announce_the_name_runs_nothing(
        wf: Wfsched, collide_a: Path) -> None:
    wf.python_paths.append(collide_a)
    wf.write_config('[workflows.twin]\ndistribution = "wfsched-collide-b"\n')
    assert _workflows(wf)["twin"]["broken"] == (
        f"[workflows.twin] distribution = 'wfsched-collide-b' in {wf.config_path}, but it "
        "is announced by wfsched-collide-a only")


def test_pending_executions_of_an_uninstalled_workflow_are_held_and_run_once_it_is_back(
        wf: Wfsched, collide_a: Path) -> None:
    installed = [*wf.python_paths, collide_a]
    wf.python_paths[:] = installed
    held = wf.trigger("twin", count=2)
    wf.python_paths[:] = installed[:-1]  # uninstalled
    (other,) = wf.trigger("noop")

    result = wf.run("scheduler", "--once", check=False)
    reason = ("workflow 'twin' is not installed (scheduler on {host}); it runs once a "
              "scheduler that has it starts")
    assert result.returncode == 3, result.stderr  # only held work is left
    assert "ran 1 execution(s): 1 completed" in result.stdout
    host = wf.execution(other).host
    assert [line for line in result.stdout.splitlines() if line.startswith("held:")] == [
        f"held: twin #{i}: {reason.format(host=host)}" for i in held]
    assert wf.execution(other).status.value == "completed"
    for execution_id in held:
        row = wf.execution(execution_id)
        assert (row.status.value, row.claimed_by, row.attempt) == ("pending", None, 1)
        assert row.wait_reason == reason.format(host=host)
    assert "waiting: workflow 'twin' is not installed" in wf.run("executions", "list").stdout

    wf.python_paths[:] = installed  # installed again
    result = wf.run("scheduler", "--once")
    assert "ran 2 execution(s): 2 completed" in result.stdout
    for execution_id in held:
        row = wf.execution(execution_id)
        assert (row.status.value, row.attempt, row.wait_reason) == ("completed", 1, None)
        assert wf.store.steps(execution_id)[0].result == {"from": "wfsched-collide-a"}


def test_pending_executions_of_a_workflow_that_broke_are_held_with_its_reason(
        wf: Wfsched, collide_a: Path, collide_b: Path) -> None:
    wf.python_paths.append(collide_a)
    (execution_id,) = wf.trigger("twin")
    wf.python_paths.append(collide_b)  # a second distribution now announces the name
    result = wf.run("scheduler", "--once", check=False)
    assert result.returncode == 3
    assert (f"held: twin #{execution_id}: workflow 'twin' is broken: announced by 2 "
            "distributions") in result.stdout
    assert wf.execution(execution_id).status.value == "pending"
    wf.write_config('[workflows.twin]\ndistribution = "wfsched-collide-a"\n')
    wf.run("scheduler", "--once")
    assert wf.execution(execution_id).status.value == "completed"
    assert wf.store.steps(execution_id)[0].result == {"from": "wfsched-collide-a"}
