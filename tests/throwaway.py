"""Throwaway things the tests and the benchmarks both need: a package installed with
``pip install --target`` once per content, and a fresh database on a local server.

Kept free of pytest so that ``bench/`` can import it too (it puts this folder on
``sys.path``).
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def pip_install_target(source: Path, cache: Path, name: str) -> Path:
    """``pip install --target`` the distribution at ``source`` once per content.

    Returns the directory to put on PYTHONPATH: a real installation (a dist-info with
    entry points) kept out of the project's virtualenv. Safe when several processes ask
    at once (a file lock, then an atomic rename).
    """
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*")):
        if path.is_file() and "egg-info" not in str(path) and "__pycache__" not in str(path):
            digest.update(path.relative_to(source).as_posix().encode())
            digest.update(path.read_bytes())
    target = cache / f"{name}-{digest.hexdigest()[:12]}"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            work = cache / f".tmp-{uuid.uuid4().hex}"
            build = cache / f".src-{uuid.uuid4().hex}"
            shutil.copytree(source, build)
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                 "--no-build-isolation", "--disable-pip-version-check", "--target",
                 str(work), str(build)],
                check=True, capture_output=True)
            shutil.rmtree(build, ignore_errors=True)
            work.rename(target)
    return target


def create_postgresql_database(prefix: str) -> tuple[str, Callable[[], None]]:
    """A fresh database on PostgreSQL at 127.0.0.1:5432: its URL and how to drop it.

    Raises when no server answers (the caller decides: skip, fail or do without).
    """
    import psycopg

    admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def create_mariadb_database(prefix: str) -> tuple[str, Callable[[], None]]:
    """A fresh database on MariaDB/MySQL at 127.0.0.1:3306: its URL and how to drop it."""
    import pymysql

    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="",
                            connect_timeout=3, autocommit=True)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")

    def drop() -> None:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()

    return f"mysql+pymysql://root@127.0.0.1:3306/{name}", drop
