"""The store contract (``store/contract.py``) is the whole of what the rest asks of a store.

``SqlStore`` implements it method for method; code outside ``store/`` (the core and the
plugins under ``plugins/``) calls nothing else on a store; and a store that is not a
``SqlStore`` — one that wraps it and refuses everything outside the contract — given by a
plugin through the ``wfsched_store`` hook runs a batch end to end.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

from inprocess import make_scheduler

import wfsched_core
from wfsched_core import hookimpl
from wfsched_core.store import SqlStore
from wfsched_core.store.contract import Store

ROOT = Path(wfsched_core.__file__).parent.parent
CONTRACT = sorted(name for name, member in vars(Store).items()
                  if not name.startswith("_") and callable(member))


def public_methods(cls: type) -> set[str]:
    return {name for name, member in inspect.getmembers(cls)
            if not name.startswith("_") and callable(member)}


def test_sqlstore_has_every_method_of_the_contract_with_its_signature() -> None:
    different = [f"{name}: contract {inspect.signature(getattr(Store, name))} "
                 f"!= SqlStore {inspect.signature(getattr(SqlStore, name))}"
                 for name in CONTRACT if hasattr(SqlStore, name)
                 and str(inspect.signature(getattr(Store, name)))
                 != str(inspect.signature(getattr(SqlStore, name)))]
    assert [name for name in CONTRACT if not hasattr(SqlStore, name)] == []
    assert different == []


def test_every_public_method_of_sqlstore_is_in_the_contract() -> None:
    """A method added to SqlStore for someone outside the store belongs in the contract."""
    assert sorted(public_methods(SqlStore) - set(CONTRACT)) == []


def _store_calls(path: Path) -> list[tuple[int, str]]:
    """(line, method) for each ``<...>store.method`` attribute read in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        owner_name = (owner.attr if isinstance(owner, ast.Attribute)
                      else owner.id if isinstance(owner, ast.Name) else "")
        if owner_name.lstrip("_") in {"store", "quick_store"} and not node.attr.startswith("_"):
            found.append((node.lineno, node.attr))
    return found


def test_code_outside_the_store_asks_a_store_for_nothing_but_the_contract() -> None:
    sources = [path for path in sorted((ROOT / "wfsched_core").rglob("*.py"))
               if "store" not in path.relative_to(ROOT / "wfsched_core").parts[:1]]
    sources += sorted((ROOT / "plugins").glob("*/wfsched_*/**/*.py"))
    assert len(sources) > 50
    outside = [f"{path.relative_to(ROOT)}:{line}: store.{name}"
               for path in sources for line, name in _store_calls(path)
               if name not in CONTRACT]
    assert outside == []


class ContractOnlyStore:
    """A store that is not a SqlStore: it forwards the contract's methods to one, records
    each call, and refuses (and records) everything else."""

    def __init__(self, inner: SqlStore) -> None:
        self._inner = inner
        self.calls: list[str] = []
        self.refused: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name not in CONTRACT:
            self.refused.append(name)
            raise AttributeError(f"{name!r} is not part of the store contract")
        method = getattr(self._inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return call


class WrappingStorePlugin:
    def __init__(self) -> None:
        self.stores: list[ContractOnlyStore] = []

    @hookimpl(tryfirst=True)
    def wfsched_store(self, url: str) -> ContractOnlyStore:
        store = ContractOnlyStore(SqlStore(url))
        self.stores.append(store)
        return store


def test_a_batch_runs_through_a_plugins_store_that_is_not_sqlstore(
        monkeypatch: Any, home: Path, database_url: str, testworkflows_path: Path) -> None:
    plugin = WrappingStorePlugin()
    scheduler = make_scheduler(monkeypatch, home, database_url, testworkflows_path,
                               extra_plugins=(("test.wrapping-store", plugin),),
                               prepared=False, store_from_hooks=True, once=True,
                               max_concurrent=3)
    store = scheduler.store
    assert isinstance(store, ContractOnlyStore) and not isinstance(store, SqlStore)
    assert isinstance(store, Store)  # the runtime-checkable protocol sees a store
    ids = [e.id for e in store.enqueue("noop", count=5)]
    summary = scheduler.run()
    try:
        finals = {i: store.get_execution(i).status.value for i in ids}
        assert set(finals.values()) == {"completed"}, finals
        assert sorted(summary.outcomes) == ids
        assert store.refused == []
        # the scheduler's whole path went through the wrapper
        for method in ("claim_pending", "apply_worker_reports", "start_wake_listener",
                       "register_scheduler", "scheduler_stopped"):
            assert method in store.calls, (method, sorted(set(store.calls)))
    finally:
        store.dispose()
