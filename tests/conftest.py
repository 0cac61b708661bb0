"""Fixtures: a temporary WFSCHED_HOME, a database per kind, the test packages installed."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO, Wfsched

PACKAGES = Path(__file__).parent / "packages"
CACHE = REPO / ".pytest_cache" / "wfsched-packages"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def installed_package(name: str) -> Path:
    """``pip install --target`` one of tests/packages once per content; return the dir.

    A real installation (a dist-info with entry points), kept out of the project's venv so
    that it is seen only by the processes a test gives it to.
    """
    source = PACKAGES / name
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*")):
        if path.is_file() and "egg-info" not in str(path) and "__pycache__" not in str(path):
            digest.update(path.relative_to(source).as_posix().encode())
            digest.update(path.read_bytes())
    target = CACHE / f"{name}-{digest.hexdigest()[:12]}"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            work = CACHE / f".tmp-{uuid.uuid4().hex}"
            build = CACHE / f".src-{uuid.uuid4().hex}"
            shutil.copytree(source, build)
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                 "--no-build-isolation", "--disable-pip-version-check", "--target",
                 str(work), str(build)],
                check=True, capture_output=True)
            shutil.rmtree(build, ignore_errors=True)
            work.rename(target)
    return target


@pytest.fixture(scope="session")
def testworkflows_path() -> Path:
    return installed_package("wfsched-testworkflows")


@pytest.fixture(scope="session")
def brokenplugin_path() -> Path:
    return installed_package("wfsched-brokenplugin")


# --- databases ---------------------------------------------------------------------------


def _server_missing(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing server is a failure)")
    pytest.skip(message)


def _postgresql_database() -> Iterator[str]:
    try:
        import psycopg

        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                                autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        _server_missing("PostgreSQL at 127.0.0.1:5432", exc)
    name = f"wfsched_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _mariadb_database() -> Iterator[str]:
    try:
        import pymysql

        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="",
                                connect_timeout=3, autocommit=True)
    except Exception as exc:  # noqa: BLE001
        _server_missing("MariaDB at 127.0.0.1:3306", exc)
    name = f"wfsched_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def database_for(kind: str, home: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'wfsched.db'}"
    elif kind == "postgresql":
        yield from _postgresql_database()
    elif kind == "mariadb":
        yield from _mariadb_database()
    else:  # pragma: no cover
        raise ValueError(kind)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_kind(request: pytest.FixtureRequest) -> str:
    """Parametrise a test over every database kind."""
    return request.param


@pytest.fixture
def database_url(request: pytest.FixtureRequest, home: Path) -> Iterator[str]:
    """A fresh database: SQLite unless the test also uses ``db_kind``."""
    kind = request.getfixturevalue("db_kind") if "db_kind" in request.fixturenames \
        else "sqlite"
    yield from database_for(kind, home)


@pytest.fixture
def wf(home: Path, database_url: str, testworkflows_path: Path) -> Iterator[Wfsched]:
    """The real ``wfsched`` command on a fresh home and database, test workflows installed."""
    runner = Wfsched(home, database_url, [testworkflows_path])
    if not database_url.startswith("sqlite"):
        runner.run("db", "upgrade")  # servers: the schema is created by the command, once
    yield runner
    runner.close()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """A directory where test workflows write their records (``--param dir=...``)."""
    path = tmp_path / "records"
    path.mkdir()
    return path
