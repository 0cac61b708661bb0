"""Workflows that are fine themselves but name something that is not."""

from wfsched_core import Workflow, step


class NeedsUnimportable(Workflow):
    """Runs after a workflow whose module fails to import."""

    depends_on = ["fails_to_import"]

    @step
    def run(self, ctx):
        return None


class NeedsNeeds(Workflow):
    """Runs after one that runs after the unimportable one."""

    depends_on = ["needs_unimportable"]

    @step
    def run(self, ctx):
        return None


class WrongSpawner(Workflow):
    """Names a spawn strategy no installed plugin provides."""

    spawner = "no_such_spawner"

    @step
    def run(self, ctx):
        return None
