"""Status storage: the SQLAlchemy store for every URL SQLAlchemy understands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfsched_core.framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.store import SqlStore


@hookimpl(trylast=True)
def wfsched_store(url: str, settings: Settings) -> SqlStore:
    from wfsched_core.store import SqlStore

    return SqlStore(url)
