"""``wfsched pause`` / ``resume``: which workflows a name (or ``--all``) means, and who.

A pause is stored by the store (``store/pauses.py``); this module only resolves the names
a person typed against what exists — the workflows installed here and those any scheduler
has recorded in the database (another host may run workflows this one does not have) —
so that a typo is an error, not a pause of nothing.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from wfsched_core.base.errors import UnknownWorkflowError, UsageError
from wfsched_core.base.processes import hostname

if TYPE_CHECKING:
    from wfsched_core.authoring.catalog import Catalog
    from wfsched_core.base.pauses import Pause
    from wfsched_core.store.contract import Store


def who() -> str:
    """``user@host`` of the person pausing (shown in listings)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = "unknown"
    return f"{user}@{hostname()}"


def known_workflows(catalog: Catalog, store: Store) -> set[str]:
    """Every workflow name installed here or recorded in the database by a scheduler."""
    return set(catalog.names) | set(store.workflow_rows())


def resolve_names(name: str | None, every: bool, known: set[str], verb: str) -> list[str]:
    """The workflows ``NAME`` or ``--all`` means; exactly one of them must be given."""
    if every == (name is not None):
        raise UsageError(f"{verb}: give a workflow name or --all (one of them)")
    if every:
        return sorted(known)
    assert name is not None
    if name not in known:
        listed = ", ".join(sorted(known)) or "none installed"
        raise UnknownWorkflowError(f"unknown workflow {name!r} (known: {listed})")
    return [name]


def pause(store: Store, catalog: Catalog, name: str | None, every: bool,
          reason: str | None, paused_by: str | None = None,
          ) -> tuple[list[Pause], dict[str, Pause]]:
    """Pause ``name`` (or every workflow); the new pauses and those that stood already.
    ``paused_by``: who, when not the person at this terminal (the dashboard's client)."""
    if reason is not None and len(reason) > 500:
        raise UsageError("--reason is longer than 500 characters")
    names = resolve_names(name, every, known_workflows(catalog, store), "pause")
    return store.pause_workflows(names, reason or None, paused_by or who())


def resume(store: Store, catalog: Catalog, name: str | None, every: bool) -> list[str]:
    """Resume ``name`` (or every paused workflow); the names that were paused."""
    if every and name is None:
        return store.resume_workflows(None)
    known = known_workflows(catalog, store) | set(store.paused_workflows())
    return store.resume_workflows(resolve_names(name, every, known, "resume"))
