"""Each execution records which code ran it (issue 20, item 4): the workflow's
distribution and version and the core's, set when it starts — by the scheduler for its
lean workers (fork and exec), by ``wfsched execute`` for itself — shown by ``executions
show`` and filtered by ``executions list --version``; and a database of the previous
revision keeps its executions (no version recorded) through ``db upgrade``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Wfsched, database_at_revision_holding

import wfsched_core
from wfsched_core.base.records import RunVersion
from wfsched_core.store import SqlStore
from wfsched_core.store.reports import StartReport

PACKAGE = "wfsched-versioned"


def _write_package(source: Path, version: str) -> None:
    """A tiny workflow distribution whose one step returns the version of its code."""
    (source / "wfsched_versioned").mkdir(parents=True, exist_ok=True)
    (source / "pyproject.toml").write_text(f"""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{PACKAGE}"
version = "{version}"

[project.entry-points."wfsched.workflows"]
versioned = "wfsched_versioned:Versioned"

[tool.setuptools.packages.find]
include = ["wfsched_versioned*"]
""")
    (source / "wfsched_versioned" / "__init__.py").write_text(f"""\
from wfsched_core import Workflow, step

CODE_VERSION = "{version}"


class Versioned(Workflow):
    @step
    def report(self, ctx):
        return CODE_VERSION
""")


def _install(version: str, target: Path, tmp_path: Path) -> None:
    """``pip install --upgrade --target``: the new version replaces the old one in place."""
    source = tmp_path / f"src-{version}"
    _write_package(source, version)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check", "--upgrade",
                    "--target", str(target), str(source)], check=True, capture_output=True)


@pytest.fixture
def versioned(home: Path, tmp_path: Path, testworkflows_path: Path) -> Iterator[Wfsched]:
    runner = Wfsched(home, f"sqlite:///{home}/wfsched.db",
                     [tmp_path / "site", testworkflows_path])
    yield runner
    runner.close()


def _ran(wf: Wfsched, execution_id: int) -> tuple[dict, str]:
    shown = wf.json("executions", "show", str(execution_id))
    return shown, wf.run("executions", "show", str(execution_id)).stdout


@pytest.mark.parametrize("start_mode", ["fork", "exec"])
def test_the_recorded_version_follows_an_upgrade(versioned: Wfsched, tmp_path: Path,
                                                 start_mode: str) -> None:
    wf = versioned
    wf.write_config(f'start_mode = "{start_mode}"\n')
    _install("1.0", tmp_path / "site", tmp_path)
    (first,) = wf.trigger("versioned")
    wf.run("scheduler", "--once")
    _install("2.0", tmp_path / "site", tmp_path)
    (second,) = wf.trigger("versioned")
    wf.run("scheduler", "--once")

    for execution_id, version in ((first, "1.0"), (second, "2.0")):
        shown, text = _ran(wf, execution_id)
        assert shown["status"] == "completed"
        assert shown["steps"][0]["result"] == version  # the recorded version is what ran
        assert (shown["workflow_package"], shown["workflow_version"],
                shown["core_version"]) == (PACKAGE, version, wfsched_core.__version__)
        assert f"version:     {PACKAGE}=={version} (wfsched-core " \
               f"{wfsched_core.__version__})" in text

    def listed(*args: str) -> list[int]:
        return [row["id"] for row in wf.json("executions", "list", *args)]

    assert listed("--version", "1.0") == [first]
    assert listed("--version", f"{PACKAGE}==2.0") == [second]
    assert listed("--version", "wfsched-other==2.0") == []
    assert listed("--version", "3.0") == []


def test_wfsched_execute_records_the_version_it_runs(versioned: Wfsched,
                                                    tmp_path: Path) -> None:
    wf = versioned
    _install("1.5", tmp_path / "site", tmp_path)
    (execution_id,) = wf.trigger("versioned")
    wf.run("execute", str(execution_id))
    shown, _ = _ran(wf, execution_id)
    assert (shown["workflow_package"], shown["workflow_version"]) == (PACKAGE, "1.5")
    assert shown["core_version"] == wfsched_core.__version__


def test_a_pending_execution_has_no_version_yet(versioned: Wfsched, tmp_path: Path) -> None:
    wf = versioned
    _install("1.0", tmp_path / "site", tmp_path)
    (execution_id,) = wf.trigger("versioned")
    shown, text = _ran(wf, execution_id)
    assert shown["workflow_version"] is None and shown["core_version"] is None
    assert "version:" not in text
    assert wf.json("executions", "list", "--version", "1.0") == []


def test_db_upgrade_keeps_executions_of_0003_without_a_version(
        home: Path, testworkflows_path: Path) -> None:
    url = f"sqlite:///{home}/old.db"
    database_at_revision_holding(
        url, "0003",
        "INSERT INTO workflow_executions (workflow, status, priority, attempt, params, "
        "trigger, created_at, started_at, cancel_requested) VALUES ('noop', 'completed', "
        "0, 1, '{}', 'manual', '2026-01-01 00:00:00', '2026-01-01 00:00:01', 0)")
    wf = Wfsched(home, url, [testworkflows_path])
    try:
        wf.run("db", "upgrade")
        (old,) = wf.json("executions", "list")
        shown = wf.json("executions", "show", str(old["id"]))
        assert shown["workflow"] == "noop" and shown["status"] == "completed"
        assert (shown["workflow_package"], shown["workflow_version"],
                shown["core_version"]) == (None, None, None)
        (new,) = wf.trigger("noop")
        wf.run("scheduler", "--once")
        shown = wf.json("executions", "show", str(new))
        assert shown["workflow_package"] == "wfsched-testworkflows"
        assert shown["workflow_version"] == "0.1.0"
        assert [r["id"] for r in wf.json("executions", "list", "--version", "0.1.0")] == [new]
    finally:
        wf.close()


def test_both_starts_record_the_version_on_every_database(database_url: str,
                                                         db_kind: str) -> None:
    """The scheduler's recorded start of a lean worker (one compare-and-set with the
    version) and ``wfsched execute``'s own (``version_of``), and the filter, on SQLite,
    PostgreSQL and MariaDB."""
    store = SqlStore(database_url)
    try:
        store.upgrade()
        lean, direct, never = store.enqueue("versioned", count=3)
        (claimed,) = store.claim_pending("scheduler-1", 1)
        assert claimed.id == lean.id
        (result,) = store.apply_worker_reports("scheduler-1", "host-a", [StartReport(
            lean.id, 101, "report", claimed, RunVersion(PACKAGE, "1.0", "0.1.0"))])
        assert result[0].version == RunVersion(PACKAGE, "1.0", "0.1.0")
        asked: list[str] = []
        store.start_running(direct.id, None, pid=102, host="host-b", manual_owner="manual",
                            version_of=lambda workflow: asked.append(workflow) or RunVersion(
                                PACKAGE, "2.0", "0.1.0"))
        assert asked == ["versioned"]
        assert store.get_execution(lean.id).version == RunVersion(PACKAGE, "1.0", "0.1.0")
        assert store.get_execution(direct.id).version == RunVersion(PACKAGE, "2.0", "0.1.0")
        assert store.get_execution(never.id).version == RunVersion()
        assert [e.id for e in store.list_executions(version="2.0")] == [direct.id]
        assert [e.id for e in store.list_executions(version=f"{PACKAGE}==1.0")] == [lean.id]
        assert store.list_executions(version="other==1.0") == []
    finally:
        store.dispose()
