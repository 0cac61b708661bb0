"""The store on every database kind: a claim limited to the workflows a scheduler can run
leaves the others pending, however many there are, and says why they wait."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wfsched_core.store import SqlStore


@pytest.fixture
def store(database_url: str, db_kind: str) -> Iterator[SqlStore]:
    store = SqlStore(database_url)
    store.upgrade()
    yield store
    store.dispose()


def test_a_backlog_of_unrunnable_executions_does_not_crowd_runnable_ones_out(
        store: SqlStore) -> None:
    gone = store.enqueue("uninstalled", priority=9, count=40)  # more than a claim reads
    here = store.enqueue("installed", count=2)
    claimed = store.claim_pending("s1", 5, runnable={"installed", "other"})
    assert [e.id for e in claimed] == [e.id for e in here]
    # the unrunnable ones are left alone: pending, unclaimed, attempt unchanged
    for execution in (store.get_execution(e.id) for e in gone):
        assert (execution.status.value, execution.claimed_by, execution.attempt) == \
            ("pending", None, 1)
    # a scheduler that has the workflow takes them (without runnable: every workflow)
    assert len(store.claim_pending("s2", 50, runnable={"uninstalled"})) == 40


def test_hold_unrunnable_writes_the_reason_once_and_the_claim_clears_it(
        store: SqlStore) -> None:
    gone = store.enqueue("uninstalled", count=3)
    store.enqueue("installed")
    def reason_of(workflow: str) -> str:
        return f"workflow {workflow!r} is not installed"

    assert store.hold_unrunnable({"installed"}, reason_of) == {"uninstalled": 3}
    assert {store.get_execution(e.id).wait_reason for e in gone} == \
        {"workflow 'uninstalled' is not installed"}
    assert store.get_execution(gone[0].id).status.value == "pending"
    # nothing changed: counted again, nothing written
    assert store.hold_unrunnable({"installed"}, reason_of) == {"uninstalled": 3}
    (taken,) = store.claim_pending("s1", 1, runnable={"uninstalled"})
    assert taken.wait_reason is None and store.get_execution(taken.id).wait_reason is None
    assert store.hold_unrunnable({"installed"}, reason_of) == {"uninstalled": 2}
