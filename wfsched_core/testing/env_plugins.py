"""A test's workflow classes, announced in the worker processes of ``wfsched_run``.

A worker that the scheduler does not run itself (``wfsched execute ID``: the worker of
every spawner but ``local``) builds its own plugin manager: ``wfsched_run`` names this
module in ``WFSCHED_EXTRA_PLUGINS`` and the test's classes in ``WFSCHED_TEST_WORKFLOWS``
(JSON: name -> ``module:QualifiedName``), so that the worker knows them too.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from wfsched_core.framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from wfsched_core.authoring.catalog import WorkflowRegistrar

ENV_TEST_WORKFLOWS = "WFSCHED_TEST_WORKFLOWS"


@hookimpl
def wfsched_workflows(registry: WorkflowRegistrar) -> None:
    from functools import partial

    from wfsched_core.worker.plan import import_target

    for name, target in json.loads(os.environ.get(ENV_TEST_WORKFLOWS) or "{}").items():
        registry.add_lazy(name, partial(import_target, target), f"test ({target})")
