"""The rendered cron file run for real: on a fresh data directory, twice at once, the
nightly prune line, and the logrotate rule for its log."""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import IN_CI, installed_package
from helpers import Wfsched, wait_until

from wfsched_core.store import SqlStore


def _cron_file(wf: Wfsched, home: Path) -> str:
    # no database URL: the service's own default, SQLite in its data directory
    wf.extra_env["WFSCHED_DATABASE_URL"] = ""
    return wf.run("deploy", "cron", "--user", getpass.getuser(), "--home", str(home)).stdout


def _environment(cron: str, wf: Wfsched) -> dict[str, str]:
    """What cron gives the line: the file's variables and little else."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(wf.home), "PYTHONPATH": wf.env["PYTHONPATH"]}
    for line in cron.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.isidentifier() and not line.startswith("#"):
            env[name] = value
    return env


def _command(cron: str, marker: str) -> str:
    """The shell command of the line that holds ``marker``, without schedule and user."""
    line = next(x for x in cron.splitlines() if marker in x and not x.startswith("#"))
    return line.split(None, 6)[6]


def _create_data_directory(cron: str) -> None:
    line = next(x for x in cron.splitlines() if "install -d" in x)
    argv = shlex.split(line.partition("sudo ")[2])
    subprocess.run(argv, check=True, timeout=30)


def test_cron_line_on_a_fresh_host_run_twice_at_once(wf: Wfsched, tmp_path: Path,
                                                      work_dir: Path) -> None:
    # the first run's execution waits for a gate file: the test decides when it ends
    wf.python_paths.append(installed_package("wfsched-faultworkflows"))
    gate = tmp_path / "gate"
    home = tmp_path / "fresh"
    cron = _cron_file(wf, home)
    assert not home.exists()
    _create_data_directory(cron)  # as the file's Install comment says
    assert home.is_dir() and oct(home.stat().st_mode & 0o777) == "0o750"
    env = _environment(cron, wf)
    store = SqlStore(f"sqlite:///{home / 'wfsched.db'}")
    try:
        store.ensure_schema(auto_create=True)
        wf.extra_env["WFSCHED_HOME"] = str(home)
        (slow,) = wf.trigger("gate", gate=gate, dir=work_dir)
        once = _command(cron, "scheduler --once")
        first = subprocess.Popen(["/bin/sh", "-c", once], env=env)
        try:
            wait_until(lambda: store.get_execution(slow).status.value == "running", 60,
                       "the first run to start its execution")
            second = subprocess.run(["/bin/sh", "-c", once], env=env, timeout=60)
            # a busy minute: exit 0 (not 1, "an execution failed") and a line saying why
            assert second.returncode == 0
            log = (home / "cron.log").read_text()
            assert "skipped: the previous run still holds " + str(home / "cron.lock") in log
            assert first.poll() is None  # the first run is untouched
            gate.touch()
            assert first.wait(60) == 0
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(10)
        assert store.get_execution(slow).status.value == "completed"
        assert "ran 1 execution(s): 1 completed" in (home / "cron.log").read_text()
        # the lock is free again: the next minute runs (nothing left to do)
        assert subprocess.run(["/bin/sh", "-c", once], env=env, timeout=60).returncode == 0
        assert "ran 0 execution(s)" in (home / "cron.log").read_text()
        prune = subprocess.run(["/bin/sh", "-c", _command(cron, " prune ")], env=env,
                               timeout=60)
        assert prune.returncode == 0
        assert "removed 0 execution(s) finished before" in (home / "cron.log").read_text()
    finally:
        store.dispose()


def test_logrotate_rule_rotates_the_cron_log(wf: Wfsched, tmp_path: Path) -> None:
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not Path(logrotate).exists():
        message = "logrotate is not installed (Debian package logrotate)"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: a missing tool is a failure)")
        pytest.skip(message)
    home = tmp_path / "data"
    home.mkdir(mode=0o750)
    (home / "cron.log").write_text("ran 1 execution(s): 1 completed\n")
    rule = tmp_path / "wfsched.logrotate"
    rule.write_text(wf.run("deploy", "logrotate", "--user", getpass.getuser(),
                           "--home", str(home)).stdout)
    rule.chmod(0o644)
    result = subprocess.run([logrotate, "--verbose", "--force", "--state",
                             str(tmp_path / "state"), str(rule)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (home / "cron.log.1").read_text() == "ran 1 execution(s): 1 completed\n"
    assert (home / "cron.log").read_text() == ""  # a fresh one, for the next run to append
    assert oct((home / "cron.log").stat().st_mode & 0o777) == "0o640"
    assert os.stat(home / "cron.log").st_uid == os.getuid()
