"""Helpers for driving the real ``wfsched`` command and waiting with deadlines."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# Fast settings for tests: short polls and heartbeats, so that deadlines stay small.
TEST_CONFIG = """\
[scheduler]
poll_interval = 0.2
heartbeat_interval = 0.5
heartbeat_timeout = 5
grace_period = 15
kill_grace = 3
notify_budget = 2
"""
# CI runs the fault suite a second time with WFSCHED_TEST_START_MODE=exec, so that both
# start modes of the local spawner stay proven (the default, fork, is the first run).
START_MODE_VARIABLE = "WFSCHED_TEST_START_MODE"


def config_text(text: str = "") -> str:
    """The test defaults, the start mode asked for by the environment (unless ``text``
    sets one), then ``text``, whose leading ``key = value`` lines (before any table)
    belong to ``[scheduler]`` and replace the defaults of the same keys."""
    mode = os.environ.get(START_MODE_VARIABLE)
    if mode and "start_mode" not in text:
        text = f'start_mode = "{mode}"\n' + text
    leading = []
    for line in text.splitlines():
        if line.lstrip().startswith("["):
            break
        leading.append(line.partition("=")[0].strip())
    config = "".join(line for line in TEST_CONFIG.splitlines(keepends=True)
                     if line.partition("=")[0].strip() not in leading or "=" not in line)
    return config + ("\n" + text if text else "")


def wait_until(predicate: Callable[[], T], timeout: float, message: str,
               interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; fail with ``message``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(interval)


def database_at_revision_holding(url: str, revision: str, *inserts: str) -> None:
    """A database migrated only up to ``revision``, holding what ``inserts`` (SQL) put
    there: what a migration test then upgrades with ``wfsched db upgrade``."""
    from sqlalchemy import create_engine

    from wfsched_core.store.db.migrate import upgrade_schema

    engine = create_engine(url)
    try:
        upgrade_schema(engine, revision)
        with engine.begin() as conn:
            for statement in inserts:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


class Wfsched:
    """Runs the real ``wfsched`` command against one test's home and database."""

    def __init__(self, home: Path, database_url: str, python_paths: list[Path]) -> None:
        self.home = home
        self.database_url = database_url
        self.python_paths = list(python_paths)
        self.extra_env: dict[str, str] = {}
        (home / "wfsched.toml").write_text(config_text())
        self._store: Any = None

    @property
    def config_path(self) -> Path:
        return self.home / "wfsched.toml"

    def write_config(self, text: str) -> None:
        """Replace the config file (the test defaults are kept first)."""
        self.config_path.write_text(config_text(text))

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("WFSCHED_") and k != "NOTIFY_SOCKET"}
        env.update({
            "WFSCHED_HOME": str(self.home),
            "WFSCHED_DATABASE_URL": self.database_url,
            "PYTHONPATH": os.pathsep.join(str(p) for p in self.python_paths),
        })
        env.update(self.extra_env)
        return env

    def argv(self, *args: str) -> list[str]:
        return [PYTHON, "-m", "wfsched_core", *args]

    def run(self, *args: str, check: bool = True, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.argv(*args), env=self.env, cwd=self.home, text=True,
                                capture_output=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(
                f"wfsched {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def trigger(self, workflow: str, count: int = 1, priority: int | None = None,
                **params: Any) -> list[int]:
        args = ["trigger", workflow, "--count", str(count)]
        if priority is not None:
            args += ["--priority", str(priority)]
        for key, value in params.items():
            args += ["--param", f"{key}={value}"]
        return [int(line) for line in self.run(*args).stdout.split()]

    def popen(self, *args: str, name: str = "scheduler") -> subprocess.Popen[str]:
        """Start a long-running command; its output goes to files in the home."""
        out = open(self.home / f"{name}.out", "w")  # noqa: SIM115 - closed by the OS
        return subprocess.Popen(self.argv(*args), env=self.env, cwd=self.home, text=True,
                                stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def output_of(self, name: str = "scheduler") -> str:
        path = self.home / f"{name}.out"
        return path.read_text() if path.exists() else ""

    @property
    def store(self) -> Any:
        if self._store is None:
            from wfsched_core.store import SqlStore

            self._store = SqlStore(self.database_url)
            self._store.ensure_schema(auto_create=True)
        return self._store

    def execution(self, execution_id: int) -> Any:
        return self.store.get_execution(execution_id)

    def wait_for_status(self, execution_id: int, *statuses: str, timeout: float = 30) -> Any:
        def reached() -> Any:
            execution = self.execution(execution_id)
            return execution if execution.status.value in statuses else None

        return wait_until(reached, timeout,
                          f"execution {execution_id} to reach {'/'.join(statuses)} "
                          f"(now {self.execution(execution_id).status.value})")

    def records(self, directory: Path, kind: str) -> list[dict[str, Any]]:
        """What the test workflows wrote about themselves (see wfsched_testworkflows)."""
        return [json.loads(p.read_text()) for p in sorted(directory.glob(f"{kind}-*.json"))]

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()


def database_at_revision(home: Path, revision: str, status: str = "completed",
                         params: str = "{}") -> str:
    """A SQLite database at an older schema ``revision`` holding one ``noop`` execution
    in ``status`` (for the upgrade tests); its URL."""
    from sqlalchemy import create_engine

    from wfsched_core.store.db.migrate import upgrade_schema

    url = f"sqlite:///{home}/old.db"
    engine = create_engine(url)
    upgrade_schema(engine, revision)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO workflow_executions (workflow, status, priority, attempt, params, "
            "trigger, created_at, cancel_requested) VALUES ('noop', ?, 0, 1, ?, 'manual', "
            "'2026-01-01 00:00:00', 0)", (status, params))
    engine.dispose()
    return url


def run_in_terminal(wf: Wfsched, *args: str, timeout: float = 90,
                    interrupt_when: str | None = None,
                    env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a command with stdout and stderr on a pseudo-terminal; return (code, output).

    With ``interrupt_when``, send SIGINT (Ctrl-C) once the output holds that text; ``env``
    is added to the environment.
    """
    controller, terminal = pty.openpty()
    process = subprocess.Popen(wf.argv(*args), env={**wf.env, **(env or {})}, cwd=wf.home,
                               stdout=terminal, stderr=terminal, stdin=subprocess.DEVNULL)
    os.close(terminal)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:  # the terminal closed: the process is done
                    break
                if not data:
                    break
                chunks.append(data)
                if interrupt_when and interrupt_when.encode() in b"".join(chunks):
                    process.send_signal(signal.SIGINT)
                    interrupt_when = None
            elif process.poll() is not None:
                break
        return process.wait(30), b"".join(chunks).decode(errors="replace")
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait(10)
