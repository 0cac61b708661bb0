"""``wfsched celery-worker``: start a Celery worker that runs this installation's executions."""

from __future__ import annotations

import os
import sys

import click

from wfsched_core.app import App
from wfsched_spawner_celery.options import CeleryOptions

pass_app = click.make_pass_decorator(App)


def worker_argv(options: CeleryOptions, queues: tuple[str, ...], name: str | None,
                concurrency: int | None, extra: tuple[str, ...]) -> list[str]:
    """The ``celery worker`` command line (an argv list: no shell)."""
    argv = [sys.executable, "-m", "celery", "-A", "wfsched_spawner_celery.app", "worker",
            "--queues", ",".join(queues or (options.queue,)),
            "--hostname", name or "wfsched@%h", "--loglevel", "INFO"]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    return argv + list(extra)


@click.command("celery-worker", context_settings={"ignore_unknown_options": True})
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="Celery queue to consume (repeatable; default: [spawner.celery] queue).")
@click.option("--name", default=None, metavar="NODE",
              help="The worker's node name (default wfsched@%h: %h is the host name).")
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Executions at once on this host (default: the number of CPUs).")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_app
def celery_worker(app: App, queues: tuple[str, ...], name: str | None,
                  concurrency: int | None, celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker for the `celery` spawner (further arguments go to celery)."""
    settings = app.settings
    options = CeleryOptions.from_settings(settings)
    options.check_broker_url()
    # the worker's own application reads the settings from the environment
    os.environ["WFSCHED_DATABASE_URL"] = settings.database_url
    os.environ["WFSCHED_HOME"] = str(settings.home)
    if settings.config_path is not None:
        os.environ["WFSCHED_CONFIG"] = str(settings.config_path.resolve())
    argv = worker_argv(options, queues, name, concurrency, celery_args)
    sys.stdout.flush()
    os.execv(argv[0], argv)
