"""``wfsched deploy``: real paths, accepted by systemd-analyze, never a password."""

from __future__ import annotations

import configparser
import getpass
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import IN_CI
from helpers import REPO, Wfsched

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
PASSWORD_URL = "postgresql://wfsched:Sup3r-S3cret@db.example.org:5432/wfsched"


def _deploy(wf: Wfsched, kind: str, *args: str) -> str:
    return wf.run("deploy", kind, *args).stdout


def _systemd_analyze() -> str:
    if not Path(SYSTEMD_ANALYZE).exists():
        message = "systemd-analyze is not installed (Debian package systemd)"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: a missing tool is a failure)")
        pytest.skip(message)
    return SYSTEMD_ANALYZE


def _verify_unit(unit: Path) -> None:
    result = subprocess.run([_systemd_analyze(), "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    # verify exits 0 on mere parse warnings: any line about our file is a failure too
    complaints = [line for line in (result.stdout + result.stderr).splitlines()
                  if unit.name in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


def test_systemd_unit_is_accepted_by_systemd_analyze(wf: Wfsched, tmp_path: Path) -> None:
    unit = tmp_path / "wfsched.service"
    unit.write_text(_deploy(wf, "systemd", "--user", getpass.getuser(), "--max-concurrent", "7"))
    _verify_unit(unit)
    settings = _unit_settings(unit.read_text())
    executable, *arguments = settings["ExecStart"].split()
    assert Path(executable).exists() and arguments == ["scheduler", "--max-concurrent", "7"]
    assert settings["Type"] == "notify" and settings["KillMode"] == "mixed"
    assert settings["Restart"] == "on-failure" and settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict"
    assert str(wf.home) in settings["ReadWritePaths"].split()
    assert settings["Environment"] == f"WFSCHED_HOME={wf.home}"
    # test config: grace_period 15 + kill_grace 3 < TimeoutStopSec
    assert int(settings["TimeoutStopSec"].rstrip("s")) > 15 + 3
    assert int(settings["WatchdogSec"].rstrip("s")) > 2 * 0.5


@pytest.mark.parametrize("variant", ["state-directory", "password", "home-under-tmp"])
def test_every_systemd_variant_is_accepted_by_systemd_analyze(wf: Wfsched, tmp_path: Path,
                                                              variant: str) -> None:
    args = ["--user", getpass.getuser()]
    if variant == "state-directory":  # under /var/lib: systemd creates the directory
        args += ["--home", "/var/lib/wfsched-verify-test"]
    elif variant == "password":
        wf.extra_env["WFSCHED_DATABASE_URL"] = PASSWORD_URL
    else:
        args += ["--home", str(tmp_path / "fresh")]
    unit = tmp_path / f"wfsched-{variant}.service"
    unit.write_text(_deploy(wf, "systemd", *args))
    _verify_unit(unit)
    settings = _unit_settings(unit.read_text())
    if variant == "state-directory":
        assert settings["StateDirectory"] == "wfsched-verify-test"
        assert not Path("/var/lib/wfsched-verify-test").exists()  # nothing written here
    elif variant == "password":
        assert settings["EnvironmentFile"] == "/etc/wfsched/wfsched.env"
    else:
        assert settings["PrivateTmp"] == "no" and "StateDirectory" not in settings


def _unit_settings(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, value)
    return settings


@pytest.mark.parametrize("kind", ["systemd", "supervisor", "cron"])
def test_a_password_is_never_printed(wf: Wfsched, kind: str) -> None:
    wf.extra_env["WFSCHED_DATABASE_URL"] = PASSWORD_URL
    for output in (_deploy(wf, kind),
                   wf.run("--database-url", PASSWORD_URL, "deploy", kind).stdout):
        assert "Sup3r-S3cret" not in output
        assert "postgresql://wfsched:***@db.example.org:5432/wfsched" in output
        if kind == "systemd":
            assert "EnvironmentFile=/etc/wfsched/wfsched.env" in output
        else:
            assert "mode 0600" in output


def test_a_url_without_password_is_written_and_paths_are_real(wf: Wfsched) -> None:
    wf.extra_env["WFSCHED_DATABASE_URL"] = "postgresql://wfsched@db.example.org/wfsched"
    cron = _deploy(wf, "cron", "--user", "ops", "--home", "/srv/wf")
    assert "WFSCHED_DATABASE_URL=postgresql://wfsched@db.example.org/wfsched" in cron
    line = next(x for x in cron.splitlines() if x.startswith("* * * * *"))
    fields = line.split()
    assert fields[5] == "ops"
    assert Path(fields[6]).exists()  # this installation's own wfsched script
    assert fields[7:14] == ["scheduler", "--once", "--max-concurrent", "5", "--lock-file",
                            "/srv/wf/cron.lock", ">>"]
    assert fields[14] == "/srv/wf/cron.log"
    prune = next(x for x in cron.splitlines() if " prune " in x).split()
    assert prune[5] == "ops" and prune[7:10] == ["prune", "--older-than", "30d"]
    assert "sudo install -d -o ops -g ops -m 0750 /srv/wf" in cron


@pytest.mark.parametrize("kind", ["systemd", "supervisor", "cron", "logrotate"])
def test_home_option_is_used_everywhere_in_the_file(wf: Wfsched, tmp_path: Path,
                                                   kind: str) -> None:
    # no database URL given: the service's database is SQLite in *its* data directory
    wf.extra_env["WFSCHED_DATABASE_URL"] = ""
    other = tmp_path / "service-home"
    result = wf.run("deploy", kind, "--user", getpass.getuser(), "--home", str(other))
    lines = result.stdout.splitlines()
    # the configuration found in the current home is named as such; nothing else is
    assert [x for x in lines if str(wf.home) in x and "WFSCHED_CONFIG" not in x] == []
    if kind != "logrotate":
        assert f"Database: sqlite:///{other}/wfsched.db (SQLite in the data directory)" \
            in result.stdout
    assert str(other) in result.stdout
    # the directory does not exist: the command that creates it is printed
    assert f"sudo install -d -o {getpass.getuser()}" in result.stderr + result.stdout
    assert "does not exist yet" in result.stderr


def test_a_warning_when_the_service_user_cannot_reach_the_data_directory(
        wf: Wfsched, tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    result = wf.run("deploy", "systemd", "--user", "nobody", "--home", str(private / "data"))
    warnings = [x for x in result.stderr.splitlines() if x.startswith("wfsched deploy: warning:")]
    assert any("user nobody cannot enter" in w and "the data directory" in w
               for w in warnings), result.stderr
    assert "# WARNING: user nobody cannot enter" in result.stdout
    # the same render for the account that owns the tree: nothing to warn about
    own = wf.run("deploy", "systemd", "--user", getpass.getuser(), "--home", str(private))
    assert "warning" not in own.stderr and "WARNING" not in own.stdout


def test_an_interpreter_under_a_private_home_is_reported(tmp_path: Path) -> None:
    from wfsched_core.cli.deploy_checks import Account, reachability_warnings

    base = Path(tempfile.mkdtemp(prefix="wfsched-reach-"))  # not under pytest's 0700 tree
    try:
        base.chmod(0o755)
        root_home = base / "root"
        (root_home / "venv" / "bin").mkdir(parents=True)
        root_home.chmod(0o700)
        python = root_home / "venv" / "bin" / "python"
        python.write_text("")
        python.chmod(0o755)
        data = base / "srv" / "data"
        data.mkdir(parents=True)
        data.chmod(0o777)
        uid = os.getuid()
        args = dict(script=None, prefix=root_home / "venv", home=data, config=None)
        stranger = Account("svc", uid + 4242 if uid else 4242, frozenset({4242}))
        with _as_account(stranger):
            warnings = reachability_warnings("svc", interpreter=python, **args)
        assert warnings and all(f"cannot enter {root_home} (mode 0700" in w for w in warnings)
        assert any("the interpreter" in w for w in warnings)
        root_home.chmod(0o755)
        with _as_account(stranger):
            assert reachability_warnings("svc", interpreter=python, **args) == []
    finally:
        shutil.rmtree(base)


@contextmanager
def _as_account(account: object) -> Iterator[None]:
    from wfsched_core.cli import deploy_checks

    original = deploy_checks.Account.lookup
    deploy_checks.Account.lookup = classmethod(lambda cls, name: account)  # type: ignore[assignment]
    try:
        yield
    finally:
        deploy_checks.Account.lookup = original  # type: ignore[method-assign]


def test_supervisor_program_matches_the_stop_logic(wf: Wfsched) -> None:
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";",))
    parser.read_string(_deploy(wf, "supervisor", "--user", "ops"))
    program = parser["program:wfsched"]
    assert program["stopsignal"] == "TERM"
    assert program["stopasgroup"] == "false" and program["killasgroup"] == "true"
    assert int(program["stopwaitsecs"]) > 15 + 3  # grace_period + kill_grace of the test config
    assert program["user"] == "ops"
    assert re.search(r"/wfsched scheduler --max-concurrent 5$", program["command"])
    assert f'WFSCHED_HOME="{wf.home}"' in program["environment"]


@pytest.mark.parametrize("kind,name", [("systemd", "wfsched.service"),
                                       ("supervisor", "wfsched-supervisor.conf"),
                                       ("cron", "wfsched.cron"),
                                       ("logrotate", "wfsched.logrotate")])
def test_repository_deploy_files_are_the_rendered_templates(wf: Wfsched, kind: str,
                                                            name: str) -> None:
    assert (REPO / "deploy" / name).read_text() == _deploy(wf, kind, "--example"), \
        f"deploy/{name} is stale: regenerate it with `wfsched deploy {kind} --example`"
