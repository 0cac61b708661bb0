"""Success that is not: a missing log says so, and reading never creates a database."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import Wfsched

READ_ONLY = [
    ["executions", "list"],
    ["executions", "show", "1"],
    ["logs", "1"],
    ["cancel", "1"],
    ["status"],
    ["schedulers", "list"],
    ["prune", "--older-than", "30d"],
]


def test_logs_of_an_execution_whose_log_file_is_missing(wf: Wfsched) -> None:
    (execution_id,) = wf.trigger("chatty")
    wf.run("scheduler", "--once")
    assert "stdout line" in wf.run("logs", str(execution_id)).stdout
    log_file = wf.home / "logs" / f"{execution_id}.log"
    assert log_file.exists()
    log_file.unlink()
    result = wf.run("logs", str(execution_id), check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"execution {execution_id} has no log file" in result.stderr
    assert str(log_file) in result.stderr and "Traceback" not in result.stderr


def test_logs_of_a_pending_execution_says_it_has_not_started(wf: Wfsched) -> None:
    (execution_id,) = wf.trigger("noop")
    result = wf.run("logs", str(execution_id), check=False)
    assert result.returncode == 1
    assert f"execution {execution_id} has no log yet: it is pending" in result.stderr


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda a: " ".join(a))
def test_a_read_only_command_never_creates_a_database(wf: Wfsched, tmp_path: Path,
                                                      args: list[str]) -> None:
    missing_dir = tmp_path / "nonexistent" / "dir"
    url = f"sqlite:///{missing_dir / 'x.db'}"
    result = wf.run("--database-url", url, *args, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"no database at {missing_dir / 'x.db'}" in result.stderr, result.stderr
    assert "wfsched db upgrade" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "nonexistent").exists()


def test_the_default_database_is_not_created_by_reading(wf: Wfsched, tmp_path: Path) -> None:
    """Without any URL: the home's wfsched.db is created by trigger, not by a listing."""
    fresh_home = tmp_path / "fresh-home"
    wf.extra_env["WFSCHED_HOME"] = str(fresh_home)
    wf.database_url = ""  # the environment then names none: the home's default
    result = wf.run("executions", "list", check=False)
    assert result.returncode == 1 and "no database at" in result.stderr
    assert not fresh_home.exists()
    (execution_id,) = wf.trigger("noop")
    assert (fresh_home / "wfsched.db").exists()
    assert str(execution_id) in wf.run("executions", "list").stdout


def test_workflows_list_before_anything_ran_shows_what_is_installed(
        wf: Wfsched, tmp_path: Path) -> None:
    """The first command after an install: the workflows, nothing run yet, and still no
    database created by reading."""
    path = tmp_path / "nonexistent" / "dir" / "x.db"
    result = wf.run("--database-url", f"sqlite:///{path}", "workflows", "list", "--json")
    entries = {e["name"]: e for e in __import__("json").loads(result.stdout)}
    assert "noop" in entries and entries["noop"]["last_executed"] is None
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("args", [["trigger", "noop"], ["db", "upgrade"],
                                  ["scheduler", "--once"]], ids=lambda a: a[0])
def test_writing_commands_still_create_the_database(wf: Wfsched, tmp_path: Path,
                                                    args: list[str]) -> None:
    path = tmp_path / "new" / "dir" / "x.db"
    result = wf.run("--database-url", f"sqlite:///{path}", *args, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert path.exists()
