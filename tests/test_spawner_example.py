"""The example spawn strategy of docs/writing-a-spawner.md, installed and run for real;
per-workflow spawner selection; unknown spawner names."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import installed_package
from helpers import Wfsched


@pytest.fixture(scope="session")
def examplespawner_path() -> Path:
    return installed_package("wfsched-examplespawner")


@pytest.fixture
def ewf(wf: Wfsched, examplespawner_path: Path) -> Wfsched:
    """``wf`` with the example spawner's distribution installed."""
    wf.python_paths.append(examplespawner_path)
    return wf


def test_the_example_spawner_is_listed_and_runs_executions(ewf: Wfsched, work_dir: Path) -> None:
    plugins = {p["name"]: p for p in ewf.json("plugins", "list")}
    example = plugins["wfsched-examplespawner"]
    assert example["distribution"] == "wfsched-examplespawner" and example["error"] is None
    ids = ewf.trigger("mark", count=3, dir=work_dir)
    result = ewf.run("scheduler", "--spawner", "example", "--once")
    assert "3 completed" in result.stdout + result.stderr
    for execution_id in ids:
        execution = ewf.execution(execution_id)
        assert execution.status.value == "completed" and execution.spawner == "example"
    assert len(ewf.records(work_dir, "ran")) == 3


def test_a_workflow_attribute_overrides_the_default_spawner(ewf: Wfsched, work_dir: Path) -> None:
    ewf.write_config('[workflows.mark]\nspawner = "example"\n')
    (marked,) = ewf.trigger("mark", dir=work_dir)
    (plain,) = ewf.trigger("noop")
    ewf.run("scheduler", "--once")  # the default: local
    assert ewf.execution(marked).spawner == "example"
    assert ewf.execution(plain).spawner == "local"


def test_an_unknown_spawner_name_is_a_usage_error_listing_installed_ones(ewf: Wfsched) -> None:
    (execution_id,) = ewf.trigger("noop")
    result = ewf.run("scheduler", "--spawner", "nope", "--once", check=False)
    assert result.returncode == 2
    assert "unknown spawner 'nope' (installed: " in result.stderr
    for name in ("container", "detached", "example", "local"):
        assert name in result.stderr.split("installed: ", 1)[1]
    assert "Traceback" not in result.stderr
    assert ewf.execution(execution_id).status.value == "pending"


def test_an_unknown_spawner_on_one_workflow_fails_only_its_executions(ewf: Wfsched) -> None:
    ewf.write_config('[workflows.mark]\nspawner = "nope"\n')
    (bad,) = ewf.trigger("mark")
    (good,) = ewf.trigger("noop")
    result = ewf.run("scheduler", "--once", check=False)
    assert result.returncode == 1
    execution = ewf.execution(bad)
    assert execution.status.value == "failed"
    assert execution.error.startswith("could not start its worker: unknown spawner 'nope' "
                                      "(installed: ")
    assert ewf.execution(good).status.value == "completed"


def test_every_shipped_strategy_follows_the_interface(tmp_path: Path) -> None:
    from wfsched_spawner_container.spawner import ContainerSpawner
    from wfsched_spawner_detached.spawner import DetachedSpawner

    from wfsched_core.base.config import Settings
    from wfsched_core.spawn.local import LocalSpawner

    settings = Settings(home=tmp_path, database_url="sqlite://")
    for factory in (LocalSpawner, DetachedSpawner, ContainerSpawner):
        spawner = factory(settings)
        assert isinstance(spawner.name, str)
        assert isinstance(spawner.sees_process, bool)
        assert isinstance(spawner.survives_scheduler, bool)
        for method in ("check_available", "start", "poll", "stop"):
            assert callable(getattr(spawner, method))
