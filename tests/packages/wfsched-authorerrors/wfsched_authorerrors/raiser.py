"""A plugin whose hook raises: its own line is what the log must point at."""

from wfsched_core.framework.hookspecs import hookimpl


def _summary(execution):
    return {"id": execution.id, "rows": execution.params["rows"]}  # KeyError: no 'rows'


@hookimpl
def wfsched_execution_completed(execution):
    _summary(execution)
