"""Fixtures: a temporary WFSCHED_HOME, a database per kind, the test packages installed."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import REPO, Wfsched
from throwaway import create_mariadb_database, create_postgresql_database, pip_install_target

PACKAGES = Path(__file__).parent / "packages"
CACHE = REPO / ".pytest_cache" / "wfsched-packages"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def installed_package(name: str) -> Path:
    """One of tests/packages, really installed (pip --target) once per content."""
    return pip_install_target(PACKAGES / name, CACHE, name)


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


def _server_database(what: str, create: Callable[[str], tuple[str, Callable[[], None]]],
                     ) -> Iterator[str]:
    try:
        url, drop = create("wfsched_test")
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        _server_missing(what, exc)
    try:
        yield url
    finally:
        drop()


def database_for(kind: str, home: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{home / 'wfsched.db'}"
    elif kind == "postgresql":
        yield from _server_database("PostgreSQL at 127.0.0.1:5432", create_postgresql_database)
    elif kind == "mariadb":
        yield from _server_database("MariaDB at 127.0.0.1:3306", create_mariadb_database)
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
    else:
        runner.store  # noqa: B018 - the file exists, as after a first trigger or db upgrade
    yield runner
    runner.close()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """A directory where test workflows write their records (``--param dir=...``)."""
    path = tmp_path / "records"
    path.mkdir()
    return path
