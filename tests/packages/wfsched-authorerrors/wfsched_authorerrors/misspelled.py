"""A plugin with a misspelled hook name (there is no "execution finished" hook)."""

from wfsched_core.framework.hookspecs import hookimpl


@hookimpl
def wfsched_on_execution_finishd(execution):
    pass
