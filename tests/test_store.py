"""The store on every database kind: atomic claims, compare-and-set, retries, dependents."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from wfsched_core.base.errors import ExecutionStateError, UnknownExecutionError
from wfsched_core.base.records import WorkflowRow, utcnow
from wfsched_core.base.status import ExecutionStatus, Trigger
from wfsched_core.store import SqlStore

S = ExecutionStatus


@pytest.fixture
def store(database_url: str, db_kind: str) -> Iterator[SqlStore]:
    store = SqlStore(database_url)
    store.upgrade()
    yield store
    store.dispose()


def test_schema_revision_is_current_and_ensure_schema_accepts_it(store: SqlStore) -> None:
    from wfsched_core.store.db.migrate import head_revision
    from wfsched_core.store.db.schema import SCHEMA_REVISION

    assert store.schema_revision() == SCHEMA_REVISION == head_revision()
    store.ensure_schema(auto_create=False)


def test_claim_takes_highest_priority_then_oldest(store: SqlStore) -> None:
    low = store.enqueue("w", priority=0, count=2)
    high = store.enqueue("w", priority=5)
    claimed = store.claim_pending("s1", 2)
    assert [e.id for e in claimed] == [high[0].id, low[0].id]
    assert all(e.claimed_by == "s1" for e in claimed)
    assert [e.id for e in store.claim_pending("s2", 5)] == [low[1].id]
    assert store.claim_pending("s3", 5) == []


def test_concurrent_claims_never_take_the_same_execution(store: SqlStore) -> None:
    created = store.enqueue("w", count=60)
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claimer(owner: str) -> None:
        barrier.wait()
        mine: list[int] = []
        while True:
            batch = store.claim_pending(owner, 3)
            if not batch:
                break
            mine += [e.id for e in batch]
        results[owner] = mine

    threads = [threading.Thread(target=claimer, args=(f"s{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    taken = [i for ids in results.values() for i in ids]
    assert sorted(taken) == sorted(e.id for e in created)  # each exactly once


def test_not_before_delays_a_claim(store: SqlStore) -> None:
    (later,) = store.enqueue("w", not_before=utcnow() + timedelta(hours=1))
    assert store.claim_pending("s", 5) == []
    assert store.next_not_before(utcnow()) == later.not_before
    assert [e.id for e in store.claim_pending("s", 5, now=utcnow() + timedelta(hours=2))] == [later.id]


def test_concurrency_cap_counts_running_and_claimed(store: SqlStore) -> None:
    store.sync_workflows([WorkflowRow("w")])
    store.enqueue("w", count=3)
    first = store.claim_pending("s1", 5, concurrency={"w": 2})
    assert len(first) == 2
    assert store.claim_pending("s2", 5, concurrency={"w": 2}) == []
    waiting = [e for e in store.list_executions() if e.claimed_by is None]
    assert waiting[0].wait_reason == "concurrency limit: 2 of w already running"


def test_queues_route_claims(store: SqlStore) -> None:
    (report,) = store.enqueue("r", queue="reports")
    (plain,) = store.enqueue("p")
    assert [e.id for e in store.claim_pending("s1", 5, queues=["imports"])] == []
    assert [e.id for e in store.claim_pending("s1", 5, queues=[None])] == [plain.id]
    assert [e.id for e in store.claim_pending("s2", 5, queues=["reports", None])] == [report.id]


def test_start_is_a_compare_and_set_for_the_claiming_owner(store: SqlStore) -> None:
    (execution,) = store.enqueue("w")
    store.claim_pending("s1", 1)
    with pytest.raises(ExecutionStateError, match="claimed by scheduler s1"):
        store.start_execution(execution.id, None, pid=1, host="h", manual_owner="m")
    with pytest.raises(ExecutionStateError, match="claimed by scheduler s1"):
        store.start_execution(execution.id, "s2", pid=1, host="h", manual_owner="m")
    running = store.start_execution(execution.id, "s1", pid=123, host="h", manual_owner="m")
    assert running.status is S.RUNNING and running.pid == 123
    with pytest.raises(ExecutionStateError, match="is running, not pending"):
        store.start_execution(execution.id, "s1", pid=1, host="h", manual_owner="m")


def test_final_status_is_set_once_and_the_loser_is_told(store: SqlStore) -> None:
    (execution,) = store.enqueue("w")
    store.claim_pending("s", 1)
    store.start_execution(execution.id, "s", pid=1, host="h", manual_owner="m")
    winners = []

    def finish(status: ExecutionStatus) -> None:
        winners.append(store.finish_execution(execution.id, status, error=str(status)))

    threads = [threading.Thread(target=finish, args=(s,)) for s in (S.COMPLETED, S.FAILED) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len([w for w in winners if w is not None]) == 1
    assert store.get_execution(execution.id).status in (S.COMPLETED, S.FAILED)


def test_a_failure_with_retries_left_queues_the_next_attempt_in_the_same_step(store: SqlStore) -> None:
    (execution,) = store.enqueue("w", params={"a": "1"}, priority=3)
    store.claim_pending("s", 1)
    store.start_execution(execution.id, "s", pid=1, host="h", manual_owner="m")
    at = utcnow() + timedelta(seconds=30)
    finished = store.finish_execution(execution.id, S.FAILED, error="boom", retry_at=at)
    retry = finished.retry
    assert retry is not None and retry.attempt == 2 and retry.retry_of == execution.id
    assert retry.trigger is Trigger.RETRY and retry.params == {"a": "1"} and retry.priority == 3
    assert store.get_execution(retry.id).not_before == at
    assert store.workflow_rows()["w"].last_status == "failed"


def test_a_cancel_requested_failure_is_not_retried(store: SqlStore) -> None:
    (execution,) = store.enqueue("w")
    store.claim_pending("s", 1)
    store.start_execution(execution.id, "s", pid=1, host="h", manual_owner="m")
    _, now = store.request_cancel(execution.id)
    assert now is False
    finished = store.finish_execution(execution.id, S.FAILED, retry_at=utcnow())
    assert finished.retry is None


def test_completion_queues_dependents(store: SqlStore) -> None:
    store.sync_workflows([WorkflowRow("a"), WorkflowRow("b")], dependencies=[("a", "b")])
    (execution,) = store.enqueue("a", params={"day": "mon"})
    store.claim_pending("s", 1)
    store.start_execution(execution.id, "s", pid=1, host="h", manual_owner="m")
    finished = store.finish_execution(execution.id, S.COMPLETED)
    assert [(e.workflow, e.trigger, e.params) for e in finished.triggered] == [
        ("b", Trigger.DEPENDENCY, {"day": "mon"})]


def test_scheduled_run_is_unique_per_tick(store: SqlStore) -> None:
    tick = utcnow().replace(microsecond=0)
    assert len(store.enqueue("w", scheduled_for=tick, trigger=Trigger.SCHEDULE)) == 1
    assert store.enqueue("w", scheduled_for=tick, trigger=Trigger.SCHEDULE) == []
    assert store.record_skipped_tick("w", tick, "late") is False
    assert store.last_scheduled_for("w") == tick


def test_cancel_pending_at_once_and_refuse_finished(store: SqlStore) -> None:
    (execution,) = store.enqueue("w")
    cancelled, now = store.request_cancel(execution.id)
    assert now is True and cancelled.status is S.CANCELLED
    with pytest.raises(ExecutionStateError, match="already cancelled"):
        store.request_cancel(execution.id)
    with pytest.raises(UnknownExecutionError):
        store.get_execution(10_000)


def test_dead_scheduler_claims_are_released_and_running_adopted(store: SqlStore) -> None:
    a, b = store.enqueue("w", count=2)
    store.claim_pending("dead", 2)
    store.start_execution(a.id, "dead", pid=1, host="h", manual_owner="m")
    assert store.release_claim_of(b.id, "dead") is True
    assert store.get_execution(b.id).claimed_by is None
    assert store.adopt(a.id, "dead", "alive") is True
    assert store.adopt(a.id, "dead", "other") is False
    assert store.get_execution(a.id).claimed_by == "alive"


def test_schedulers_starting_together_both_sync_the_workflows(store: SqlStore) -> None:
    rows = [WorkflowRow(f"w{i}") for i in range(30)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def sync() -> None:
        barrier.wait()
        try:
            store.sync_workflows(rows, dependencies=[("w1", "w2"), ("w2", "w3")])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=sync) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert set(store.workflow_rows()) == {r.name for r in rows}


def test_admission_is_asked_outside_the_claim_transaction(store: SqlStore,
                                                         database_url: str) -> None:
    """Issue 15: a slow admission plugin must not hold SQLite's write lock or the
    candidates' row locks: another process's writes go through while it is asked, and
    the claim's compare-and-set then skips a row that changed meanwhile."""
    first, second = store.enqueue("w", count=2)
    other = SqlStore(database_url)  # another process's connection (and writer gate)
    done: list[bool] = []

    def admit(execution):  # noqa: ANN001, ANN202 - the hook's signature
        if execution.id == first.id and not done:
            writer = threading.Thread(target=lambda: done.append(
                other.request_cancel(second.id)[1]))
            writer.start()
            writer.join(20)
            assert done == [True], "another writer was blocked while admission was asked"
        return None

    try:
        claimed = store.claim_pending("s1", 5, admit=admit)
    finally:
        other.dispose()
    assert [e.id for e in claimed] == [first.id]  # the cancelled one lost its claim
    assert store.get_execution(second.id).status is S.CANCELLED
