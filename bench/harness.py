"""What every workload needs: a fresh home and database, the real ``wfsched`` command,
the benchmark workflows installed, and the CPU its processes used."""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
WORKFLOWS_SOURCE = REPO / "bench" / "workflows" / "wfsched-benchworkflows"
PYTHON = sys.executable
# tests/throwaway.py: the package installer and throwaway databases the tests use too
sys.path.insert(0, str(REPO / "tests"))
from throwaway import create_postgresql_database as create_postgresql_database  # noqa: E402
from throwaway import pip_install_target  # noqa: E402

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned descendants (the fork server, its workers) become our children.

    Without it, processes whose parent exited before them are reparented to init, and
    their CPU never reaches ``RUSAGE_CHILDREN``: the benchmark would undercount.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans(timeout: float = 15.0) -> None:
    """Wait for adopted descendants to exit, so their CPU is counted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)  # polling our own children, not synchronising with them


def children_cpu() -> float:
    """CPU seconds (user + system) of every waited-for descendant so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def install_workflows() -> Path:
    """``pip install --target`` the benchmark workflows once per content; return the dir."""
    return pip_install_target(WORKFLOWS_SOURCE, RESULTS / ".packages", "benchworkflows")


@dataclass
class BenchHome:
    """A fresh WFSCHED_HOME with its SQLite database, for one run of one workload."""

    home: Path
    database_url: str
    packages: Path
    start_mode: str = "fork"
    poll_interval: float | None = None

    @property
    def env(self) -> dict[str, str]:
        # bytecode is written, as in a user's installation (pip compiles at install; an
        # editable install on first import): a machine that sets PYTHONDONTWRITEBYTECODE
        # would otherwise have every fresh worker compile its modules from source
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("WFSCHED_") and k != "PYTHONDONTWRITEBYTECODE"}
        env.update({"WFSCHED_HOME": str(self.home), "WFSCHED_DATABASE_URL": self.database_url,
                    "PYTHONPATH": str(self.packages)})
        return env

    def write_config(self) -> None:
        lines = ["[scheduler]", f'start_mode = "{self.start_mode}"']
        if self.poll_interval is not None:
            lines.append(f"poll_interval = {self.poll_interval}")
        (self.home / "wfsched.toml").write_text("\n".join(lines) + "\n")

    def argv(self, *args: str) -> list[str]:
        return [PYTHON, "-m", "wfsched_core", *args]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.argv(*args), env=self.env, cwd=self.home, text=True,
                                capture_output=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"wfsched {' '.join(args)} exited {result.returncode}: "
                               f"{result.stderr.strip()[-2000:]}")
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        out = open(self.home / "scheduler.out", "w")  # noqa: SIM115 - the child holds it
        return subprocess.Popen(self.argv(*args), env=self.env, cwd=self.home, text=True,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def executions(self) -> list[dict[str, Any]]:
        """Status and timestamps of every execution, read straight from the database."""
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(sqlalchemy.text(
                    "SELECT id, status, pid, created_at, claimed_at, started_at, finished_at "
                    "FROM workflow_executions ORDER BY id")).mappings().all()
        finally:
            engine.dispose()
        return [dict(row) for row in rows]


@contextmanager
def bench_home(start_mode: str = "fork", poll_interval: float | None = None,
               database_url: str | None = None) -> Iterator[BenchHome]:
    """A temporary home (removed afterwards) with a migrated SQLite database."""
    directory = Path(tempfile.mkdtemp(prefix="wfsched-bench-"))
    try:
        home = directory / "home"
        home.mkdir()
        url = database_url or f"sqlite:///{home / 'wfsched.db'}"
        bench = BenchHome(home, url, install_workflows(), start_mode, poll_interval)
        bench.write_config()
        bench.run("db", "upgrade")
        yield bench
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def parse_time(value: Any) -> float:
    """A timestamp column (datetime or ISO text, naive UTC) as seconds since the epoch."""
    from datetime import datetime, timezone

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()
