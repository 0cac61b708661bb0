"""The commands a person types import only what they use (issue 13).

Each test runs the real ``wfsched`` command in a subprocess with a ``sitecustomize``
that records, from inside that process, every module it imported and every call to
``importlib.metadata.entry_points`` (the entry-point scan that loading plugins starts
with). Assertions are on imports, never on timings: timings are ``bench/cli_startup.py``'s.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import Wfsched

# Written into a directory put first on the command's PYTHONPATH.
SITECUSTOMIZE = '''
import atexit, json, os, sys
import importlib.metadata as _metadata

_record = {"scans": []}
_entry_points = _metadata.entry_points


def _counting_entry_points(**params):
    _record["scans"].append(params.get("group"))
    return _entry_points(**params)


_metadata.entry_points = _counting_entry_points


@atexit.register
def _write():
    _record["modules"] = sorted(sys.modules)
    with open(os.environ["WFSCHED_TEST_IMPORTS"], "w") as handle:
        json.dump(_record, handle)
'''

PLUGIN_PACKAGES = ("wfsched_web", "wfsched_notify_email", "wfsched_notify_webhook",
                   "wfsched_spawner_container", "wfsched_spawner_detached")


@pytest.fixture
def observed(wf: Wfsched, tmp_path: Path) -> Wfsched:
    """``wf`` whose commands write what they imported to ``tmp_path/imports.json``."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    wf.python_paths.insert(0, site)
    wf.extra_env["WFSCHED_TEST_IMPORTS"] = str(tmp_path / "imports.json")
    return wf


def imports_of(wf: Wfsched, *args: str, code: int = 0) -> dict[str, Any]:
    """Run ``wfsched ARGS``; what it imported and which entry-point groups it scanned."""
    result = wf.run(*args, check=False)
    assert result.returncode == code, result.stderr
    record: dict[str, Any] = json.loads(Path(wf.extra_env["WFSCHED_TEST_IMPORTS"]).read_text())
    assert "wfsched_core.cli.main" in record["modules"], "the recorder did not run"
    return record


def loaded(record: dict[str, Any], package: str) -> list[str]:
    return [m for m in record["modules"] if m == package or m.startswith(package + ".")]


def test_help_loads_no_plugin_and_no_database_code(observed: Wfsched) -> None:
    record = imports_of(observed, "--help")
    assert record["scans"] == []
    assert loaded(record, "sqlalchemy") == []
    assert loaded(record, "wfsched_core.framework.plugin_manager") == []
    assert loaded(record, "wfsched_core.store") == []
    for package in PLUGIN_PACKAGES:
        assert loaded(record, package) == [], f"--help imported the plugin {package}"


@pytest.mark.parametrize(("args", "code"), [
    (("executions", "list"), 0),
    (("executions", "list", "--json"), 0),
    (("executions", "show", "1"), 0),
    (("trigger", "noop"), 0),
    (("logs", "1"), 1),  # pending: no log yet, said in one line
    (("cancel", "1"), 0),
])
def test_everyday_commands_on_sqlite_do_not_import_sqlalchemy(
        observed: Wfsched, args: tuple[str, ...], code: int) -> None:
    observed.trigger("noop")  # one execution in the test's database
    record = imports_of(observed, *args, code=code)
    assert loaded(record, "sqlalchemy") == []
    assert "wfsched_core.store.sqlite_direct" in record["modules"]
    if args == ("executions", "list"):  # a table of executions needs no workflow module
        assert "wfsched_testworkflows.flows" not in record["modules"]
    if args[0] == "trigger":  # the one module of the workflow it names
        assert "wfsched_testworkflows.flows" in record["modules"]


def test_cancel_does_not_import_the_orm(observed: Wfsched) -> None:
    [execution_id] = observed.trigger("noop")
    record = imports_of(observed, "cancel", str(execution_id))
    assert loaded(record, "sqlalchemy.orm") == []
    assert loaded(record, "alembic") == []


def test_a_command_imports_only_its_own_command_module(observed: Wfsched) -> None:
    observed.trigger("noop")
    record = imports_of(observed, "executions", "list")
    commands = [m for m in record["modules"] if m.endswith("_commands")]
    assert commands == ["wfsched_core.cli.show_commands"]
    assert "wfsched.plugins" in record["scans"]  # the store hook: plugins may provide one


def test_a_missing_database_is_named_by_the_full_store(observed: Wfsched) -> None:
    """No database file: the SQLAlchemy store's check says so, as it always did."""
    observed.close()
    (observed.home / "wfsched.db").unlink()
    record = imports_of(observed, "executions", "list", code=1)
    assert loaded(record, "sqlalchemy.orm") == []
    assert not (observed.home / "wfsched.db").exists()


def test_plugin_commands_still_run_and_show_their_help(wf: Wfsched) -> None:
    result = wf.run("web", "--help", check=False)
    if "No such command 'web'" in result.stderr:
        pytest.skip("wfsched-web is not installed here")
    assert result.returncode == 0, result.stderr
    assert "Usage: wfsched web" in result.stdout


def test_the_command_table_names_each_built_in_command_once() -> None:
    """``BUILTIN_COMMANDS`` must list exactly what the command modules define."""
    code = ("import json; from wfsched_core.cli import main; main._load_command_modules();"
            "print(json.dumps({name: command.callback.__module__"
            " for name, command in main.cli.commands.items()}))")
    defined = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                        capture_output=True, text=True).stdout)
    from wfsched_core.cli.main import BUILTIN_COMMANDS

    assert defined == BUILTIN_COMMANDS


def test_cancel_stops_a_worker_nobody_else_stops(wf: Wfsched) -> None:
    """A running execution whose owner is gone: ``cancel`` stops its process itself and
    records it as cancelled (the one write the sqlite3 path hands to ``SqlStore``)."""
    from wfsched_core.base.processes import hostname

    [execution_id] = wf.trigger("noop")
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        wf.store.start_running(execution_id, None, pid=orphan.pid, host=hostname(),
                               manual_owner="gone")
        result = wf.run("cancel", str(execution_id), check=False, timeout=60)
        assert result.returncode == 0, result.stderr
        assert f"execution {execution_id} is cancelled" in result.stdout
        assert orphan.wait(15) is not None
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
    execution = wf.execution(execution_id)
    assert (execution.status.value, execution.error) == ("cancelled", "cancelled while running")
