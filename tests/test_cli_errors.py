"""Bad input: one line naming the problem, the right exit code, never a traceback."""

from __future__ import annotations

import pytest
from helpers import Wfsched


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["trigger", "no_such_workflow"], 2, "unknown workflow 'no_such_workflow'"),
        (["trigger", "noop", "--param", "novalue"], 2, "malformed --param 'novalue'"),
        (["trigger", "noop", "--param", "=x"], 2, "malformed --param '=x'"),
        (["trigger", "noop", "--count", "0"], 2, "Invalid value for '--count'"),
        (["trigger", "noop", "--params-json", "[1]"], 2, "must be a JSON object"),
        (["scheduler", "--max-concurrent", "0"], 2, "Invalid value for '--max-concurrent'"),
        (["scheduler", "--max-concurrent", "many"], 2, "'many' is not a valid integer"),
        (["scheduler", "--spawner", "nope", "--once"], 2, "unknown spawner 'nope' (installed: "),
        (["executions", "show", "999"], 1, "no execution with id 999"),
        (["executions", "list", "--status", "done"], 2, "Invalid value for '--status'"),
        (["logs", "999"], 1, "no execution with id 999"),
        (["cancel", "999"], 1, "no execution with id 999"),
        (["execute", "999"], 1, "no execution with id 999"),
        (["no-such-command"], 2, "No such command 'no-such-command'"),
    ],
)
def test_bad_input_is_one_clear_line(wf: Wfsched, args: list[str], code: int,
                                     message: str) -> None:
    result = wf.run(*args, check=False)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_verbose_shows_the_traceback(wf: Wfsched) -> None:
    result = wf.run("-v", "executions", "show", "999", check=False)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "no execution with id 999" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[scheduler\npoll_interval = 1", "is not valid TOML"),
        ("[scheduler]\npoll_interval = -1", "[scheduler] poll_interval must be a number of seconds"),
        ("[scheduler]\nspeed = 3", "unknown [scheduler] key 'speed'"),
        ("[plugins]\ndisable = 'x'", "[plugins] disable must be a list"),
        ("[workflows.noop]\nretries = 'many'", "[workflows.noop] retries must be a whole number from 0"),
    ],
)
def test_malformed_config_file(wf: Wfsched, content: str, message: str) -> None:
    wf.config_path.write_text(content)
    result = wf.run("trigger", "noop", check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert str(wf.config_path) in result.stderr or "[workflows.noop]" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_named_on_the_command_line(wf: Wfsched) -> None:
    result = wf.run("--config", "/nonexistent/wfsched.toml", "workflows", "list", check=False)
    assert result.returncode == 2
    assert "config file /nonexistent/wfsched.toml does not exist" in result.stderr


def test_unreadable_config_file(wf: Wfsched, tmp_path) -> None:
    directory = tmp_path / "adir"
    directory.mkdir()
    result = wf.run("--config", str(directory), "workflows", "list", check=False)
    assert result.returncode == 2
    assert "is a directory" in result.stderr


def test_missing_driver_names_the_package(wf: Wfsched) -> None:
    result = wf.run("--database-url", "mysql+mysqldb://u:secret@127.0.0.1/db",
                    "executions", "list", check=False)
    assert result.returncode == 1
    assert "the database driver for mysql+mysqldb is not installed (no module 'MySQLdb')" \
        in result.stderr
    assert 'pip install "mysqlclient", or use mysql+pymysql:// with: pip install ' \
        '"wfsched-core[mysql]"' in result.stderr
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_database_dialect_is_a_usage_error(wf: Wfsched) -> None:
    result = wf.run("--database-url", "nosuchdb://u:secret@h/db", "executions", "list",
                    check=False)
    assert result.returncode == 2
    assert "unusable database URL nosuchdb://u:***@h/db" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_server_database_without_schema_says_to_run_db_upgrade(
        database_url: str, home, testworkflows_path, db_kind: str) -> None:
    runner = Wfsched(home, database_url, [testworkflows_path])
    result = runner.run("executions", "list", check=False)
    assert result.returncode == 1
    assert "has no wfsched schema; run: wfsched db upgrade" in result.stderr
    runner.run("db", "upgrade")
    assert runner.run("executions", "list").returncode == 0


def test_unreachable_database_fails_fast_with_masked_password(wf: Wfsched) -> None:
    import time

    started = time.monotonic()
    result = wf.run("--database-url", "postgresql://bob:hunter2@127.0.0.1:1/db",
                    "executions", "list", check=False, timeout=30)
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    assert "cannot use the database postgresql+psycopg://bob:***@127.0.0.1:1/db" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_password_is_a_clear_error(wf: Wfsched) -> None:
    result = wf.run("--database-url", "mysql://nobody:wrong@127.0.0.1:3306/test",
                    "executions", "list", check=False, timeout=30)
    assert result.returncode == 1
    assert "cannot use the database" in result.stderr
    assert "wrong" not in result.stderr.replace("cannot", "")
    assert "Traceback" not in result.stderr
