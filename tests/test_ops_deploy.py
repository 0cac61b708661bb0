"""``wfsched deploy``: real paths, accepted by systemd-analyze, never a password."""

from __future__ import annotations

import configparser
import getpass
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import IN_CI
from helpers import REPO, Wfsched

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
PASSWORD_URL = "postgresql://wfsched:Sup3r-S3cret@db.example.org:5432/wfsched"


def _deploy(wf: Wfsched, kind: str, *args: str) -> str:
    return wf.run("deploy", kind, *args).stdout


def test_systemd_unit_is_accepted_by_systemd_analyze(wf: Wfsched, tmp_path: Path) -> None:
    if not Path(SYSTEMD_ANALYZE).exists():
        message = "systemd-analyze is not installed (Debian package systemd)"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: a missing tool is a failure)")
        pytest.skip(message)
    unit = tmp_path / "wfsched.service"
    unit.write_text(_deploy(wf, "systemd", "--user", getpass.getuser(), "--max-concurrent", "7"))
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True,
                            text=True, timeout=60)
    # verify exits 0 on mere parse warnings: any line about our file is a failure too
    complaints = [line for line in (result.stdout + result.stderr).splitlines()
                  if "wfsched.service" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
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
    assert Path(fields[6]).name == "flock" and fields[7] == "-n"
    assert fields[8] == "/srv/wf/cron.lock"
    assert Path(fields[9]).exists()  # this installation's own wfsched script
    assert fields[10:13] == ["scheduler", "--once", "--max-concurrent"]


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
                                       ("cron", "wfsched.cron")])
def test_repository_deploy_files_are_the_rendered_templates(wf: Wfsched, kind: str,
                                                            name: str) -> None:
    assert (REPO / "deploy" / name).read_text() == _deploy(wf, kind, "--example"), \
        f"deploy/{name} is stale: regenerate it with `wfsched deploy {kind} --example`"
