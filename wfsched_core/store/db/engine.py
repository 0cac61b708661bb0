"""Engines per database kind: drivers, time-outs, SQLite's WAL, and masked URLs.

Every dialect difference that is about *connecting* lives here; differences in queries
live in the store.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError

from wfsched_core.base.errors import DatabaseError, UsageError
from wfsched_core.store.db.sqlite_local import SQLITE_BUSY_TIMEOUT_MS, SQLITE_PRAGMAS

CONNECT_TIMEOUT = 5  # seconds: an unreachable host fails fast instead of hanging

# (backend, preferred driver module, driver name, extra to install)
_DRIVERS = {
    "postgresql": ("psycopg", "psycopg", "wfsched-core[postgresql]"),
    "mysql": ("pymysql", "pymysql", "wfsched-core[mysql]"),
    "mariadb": ("pymysql", "pymysql", "wfsched-core[mysql]"),
}


URL_FORM = "dialect[+driver]://user:password@host:port/database"


def parse_url(url: str) -> URL:
    """The parsed URL; anything malformed (a port that is no port, too) is a UsageError."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"malformed database URL {mask_url(url)!r}; expected {URL_FORM}")
    except ValueError:  # SQLAlchemy's int() of a port that is not a number
        raise UsageError(f"malformed database URL: its port is not a number; "
                         f"expected {URL_FORM}")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise UsageError(f"malformed database URL {mask_url(parsed)!r}: the port must be "
                         f"from 1 to 65535")
    return parsed


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***`` (safe to print and log)."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
        return parsed.render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<malformed database URL>"


def missing_sqlite_file(url_text: str) -> Path | None:
    """The file of a SQLite URL when it does not exist yet (None for other databases).

    Commands that only read call this first: connecting would create the file (and
    :func:`make_engine` its directory), and an empty new database would answer "no
    executions" where the truth is "wrong path".
    """
    url = parse_url(url_text)
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" \
            or database.startswith("file:") or url.query.get("uri"):
        return None
    path = Path(database).expanduser()
    return None if path.exists() else path


def require_existing_database(url_text: str) -> None:
    """Refuse to go on (naming the path) when a SQLite database file does not exist."""
    path = missing_sqlite_file(url_text)
    if path is not None:
        raise DatabaseError(f"no database at {path}: `wfsched db upgrade` creates it (so do "
                            "the scheduler and `wfsched trigger`); check --database-url, "
                            "WFSCHED_DATABASE_URL or WFSCHED_HOME if it should exist")


def normalise_url(url: URL) -> URL:
    """Pick the driver we ship extras for when the URL names only the backend."""
    backend = url.get_backend_name()
    if backend in _DRIVERS and "+" not in url.drivername:
        module, driver, _extra = _DRIVERS[backend]
        if importlib.util.find_spec(module) is not None:
            return url.set(drivername=f"{backend}+{driver}")
    return url


def make_engine(url_text: str) -> Engine:
    """An engine for ``url_text``; a missing driver names the package to install."""
    url = normalise_url(parse_url(url_text))
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "sqlite":
        _prepare_sqlite_path(url)
        kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                   "check_same_thread": False}}
    elif backend == "postgresql" or backend in ("mysql", "mariadb"):
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
        if backend != "postgresql" and url.drivername.endswith("pymysql"):
            # PyMySQL's connect_timeout covers only the TCP connect: a server that accepts
            # and never answers would hang the handshake forever without a read timeout
            kwargs["connect_args"]["read_timeout"] = CONNECT_TIMEOUT
    # An error's message must not carry the statement's values: an execution's parameters
    # (secret_params among them) would reach the log and the terminal with it.
    kwargs["hide_parameters"] = True
    try:
        engine = create_engine(url, **kwargs)
    except ModuleNotFoundError as exc:
        raise DatabaseError(_missing_driver_message(url, backend, exc.name or "?"))
    except ArgumentError as exc:
        raise UsageError(f"unusable database URL {mask_url(url)}: {exc}")
    if backend == "sqlite":
        _configure_sqlite(engine)
    elif "read_timeout" in kwargs.get("connect_args", {}):
        _lift_read_timeout_after_connect(engine)
    return engine


# DBAPI modules SQLAlchemy may ask for, and the distribution that provides each.
_DRIVER_DISTRIBUTIONS = {
    "psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "pymysql": "PyMySQL",
    "MySQLdb": "mysqlclient", "mysql": "mysql-connector-python", "asyncpg": "asyncpg",
    "pg8000": "pg8000", "mariadb": "mariadb", "oracledb": "oracledb", "pyodbc": "pyodbc",
}  # fmt: skip


def _missing_driver_message(url: URL, backend: str, module: str) -> str:
    message = (f"the database driver for {url.drivername} is not installed (no module "
               f"{module!r}); install it with: pip install "
               f"\"{_DRIVER_DISTRIBUTIONS.get(module.split('.')[0], module)}\"")
    if backend in _DRIVERS:
        message += (f", or use {backend}+{_DRIVERS[backend][1]}:// with: "
                    f"pip install \"{_DRIVERS[backend][2]}\"")
    return message


def _lift_read_timeout_after_connect(engine: Engine) -> None:
    """Connected: queries may wait longer than a handshake (row locks), so no read limit."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if hasattr(dbapi_connection, "_read_timeout"):
            dbapi_connection._read_timeout = None  # PyMySQL re-applies it on the next read


def _prepare_sqlite_path(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, and ``BEGIN IMMEDIATE`` for writes.

    pysqlite starts transactions lazily and upgrades a read lock to a write lock in the
    middle of one, which fails at once with ``database is locked`` when another process
    wrote meanwhile (the busy timeout does not apply to upgrades). Writing transactions
    therefore take the write lock up front; reading ones stay deferred and never block.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("wfsched_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")
