"""``wfsched approve``, ``wfsched reject`` and ``wfsched rerun``: a person steers a run."""

from __future__ import annotations

import click

from wfsched_core.app import App
from wfsched_core.cli import option_types
from wfsched_core.cli.main import cli

pass_app = click.make_pass_decorator(App)


@cli.command()
@click.argument("execution_id", type=option_types.EXECUTION_ID)
@click.option("--comment", metavar="TEXT", help="Why, kept with the approval.")
@pass_app
def approve(app: App, execution_id: int, comment: str | None) -> int:
    """Approve the step a waiting execution waits before; it continues from that step.

    The approver is the operating-system user running this command; a step marked
    ``approval="ops"`` accepts only the user ops or members of the Unix group ops.
    Of two approvers at once, one wins; the other is told who was first.
    """
    from wfsched_core.base.approvers import current_user

    user = current_user()
    execution = app.store.approve(execution_id, user, comment)
    click.echo(f"execution {execution.id} approved by {user}; it continues at step "
               f"{execution.resume_from} when a scheduler has a free slot")
    return 0


@cli.command()
@click.argument("execution_id", type=option_types.EXECUTION_ID)
@click.option("--reason", required=True, metavar="TEXT", help="Why (kept and notified).")
@pass_app
def reject(app: App, execution_id: int, reason: str) -> int:
    """Reject the step a waiting execution waits before: the execution ends cancelled."""
    from wfsched_core.base.approvers import current_user

    user = current_user()
    finished = app.store.reject(execution_id, user, reason)
    app.hooks.execution_cancelled(finished.execution)
    click.echo(f"execution {execution_id} rejected by {user}: cancelled")
    return 0


@cli.command()
@click.argument("execution_id", type=option_types.EXECUTION_ID)
@click.option("--from-step", metavar="NAME",
              help="The step to start from (default: the first that did not complete).")
@pass_app
def rerun(app: App, execution_id: int, from_step: str | None) -> int:
    """Queue a new execution of an ended one that reuses the recorded results of the steps
    before FROM-STEP (in ctx.results) and runs from there; prints the new id."""
    old = app.store.get_execution(execution_id)
    spec = app.hooks.catalog().get(old.workflow)
    execution, step = app.store.create_rerun(execution_id, spec.step_names, from_step)
    click.echo(execution.id)
    click.echo(f"re-runs execution {execution_id} of {old.workflow} from step {step}",
               err=True)
    app.hooks.execution_queued(execution)
    return 0
