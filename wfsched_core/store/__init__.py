"""The store: every read and write of wfsched's tables.

``SqlStore`` (``sql_store.py``) is the store, on SQLAlchemy Core, for every database.
``sqlite_direct.py`` is the short path of the commands a person types on a SQLite file,
on the standard library's ``sqlite3``. Importing this package imports neither: SQLAlchemy
costs more than such a command's whole budget, so ``SqlStore`` and ``Finished`` load on
first use (``from wfsched_core.store import SqlStore`` works as before). Only this
package touches an engine, a table or a dialect flag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfsched_core.store.sql_store import Finished, SqlStore

__all__ = ["Finished", "SqlStore"]


def __getattr__(name: str) -> Any:
    """``SqlStore`` and ``Finished``, imported (with SQLAlchemy) when first asked for."""
    if name in __all__:
        from wfsched_core.store import sql_store

        return getattr(sql_store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
