"""Parameters a workflow marks secret (``secret_params``): stored as given, shown masked.

Every place that shows an execution's parameters — ``wfsched executions``, the dashboard
and its API, the lifecycle events notifiers receive, wfsched's own log lines — passes
them through :func:`mask_params` with the names of the workflow's spec
(:func:`secret_names`). The worker alone sees the real values, in ``ctx.params``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfsched_core.authoring.catalog import Catalog
    from wfsched_core.base.records import Execution

MASK = "***"


def mask_params(params: Mapping[str, Any] | None,
                secret_names: Iterable[str]) -> dict[str, Any]:
    """A copy of ``params`` with the value of every name in ``secret_names`` replaced by
    ``***`` (whatever its type); ``params`` itself is left alone."""
    names = set(secret_names)
    return {key: MASK if key in names else value for key, value in (params or {}).items()}


def secret_names(catalog: Catalog, workflow: str) -> tuple[str, ...]:
    """The ``secret_params`` of ``workflow``; none when it is unknown, broken or
    misconfigured (the command that uses it reports that in its own way)."""
    try:
        spec = catalog.find(workflow)
    except Exception:  # noqa: BLE001 - showing an execution must not fail on its workflow
        return ()
    return spec.secret_params if spec is not None else ()


def masked_execution(execution: Execution, names: Iterable[str]) -> Execution:
    """``execution`` with its secret parameters masked (the same object when none are)."""
    names = tuple(names)
    if not names or not any(name in (execution.params or {}) for name in names):
        return execution
    return dataclasses.replace(execution, params=mask_params(execution.params, names))
