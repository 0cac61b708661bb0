"""``executions list``'s reads on every database kind: pages, ``since`` and the count,
the same from the SQLAlchemy store and (on SQLite) the standard library's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from wfsched_core.base.records import utcnow
from wfsched_core.base.status import Trigger
from wfsched_core.store import SqlStore
from wfsched_core.store.sqlite_direct import open_direct_store


@pytest.fixture
def store(database_url: str, db_kind: str) -> Iterator[SqlStore]:
    store = SqlStore(database_url)
    store.upgrade()
    yield store
    store.dispose()


def test_pages_since_and_count_agree(store: SqlStore, database_url: str) -> None:
    before = utcnow() - timedelta(seconds=1)
    ids = [e.id for e in store.enqueue("a", count=5, trigger=Trigger.MANUAL)]
    ids += [e.id for e in store.enqueue("b", count=2, trigger=Trigger.MANUAL)]
    readers = [store]
    direct = open_direct_store(database_url)
    if direct is not None:
        readers.append(direct)
    try:
        for reader in readers:
            newest = ids[::-1]
            assert [e.id for e in reader.list_executions(limit=3)] == newest[:3]
            assert [e.id for e in reader.list_executions(limit=3, offset=3)] == newest[3:6]
            assert [e.id for e in reader.list_executions(limit=3, offset=6)] == newest[6:]
            assert reader.count_executions() == 7
            assert reader.count_executions(workflow="a") == 5
            assert [e.id for e in reader.list_executions(workflow="a", offset=4)] == [ids[0]]
            assert reader.count_executions(since=before, status="pending") == 7
            later = utcnow() + timedelta(minutes=1)
            assert reader.list_executions(since=later) == []
            assert reader.count_executions(since=later) == 0
    finally:
        if direct is not None:
            direct.dispose()
