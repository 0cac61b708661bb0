"""The ``wfsched`` group, its global options, and how errors reach the user."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

from wfsched_core.app import App

# Each built-in command (or group) and the module that defines it. A command imports its
# own module only; a listing (``wfsched --help``) imports them all, and no plugin.
BUILTIN_COMMANDS: dict[str, str] = {
    "scheduler": "wfsched_core.cli.run_commands",
    "execute": "wfsched_core.cli.run_commands",
    "trigger": "wfsched_core.cli.queue_commands",
    "cancel": "wfsched_core.cli.queue_commands",
    "workflows": "wfsched_core.cli.show_commands",
    "executions": "wfsched_core.cli.show_commands",
    "logs": "wfsched_core.cli.show_commands",
    "plugins": "wfsched_core.cli.show_commands",
    "schedulers": "wfsched_core.cli.show_commands",
    "db": "wfsched_core.cli.admin_commands",
    "notify": "wfsched_core.cli.notify_commands",
    "deploy": "wfsched_core.cli.deploy_commands",
    "status": "wfsched_core.cli.status_commands",
    "prune": "wfsched_core.cli.prune_commands",
    "new": "wfsched_core.cli.new_commands",
    "pause": "wfsched_core.cli.flow_commands",
    "resume": "wfsched_core.cli.flow_commands",
    "backfill": "wfsched_core.cli.flow_commands",
    "approve": "wfsched_core.cli.steer_commands",
    "reject": "wfsched_core.cli.steer_commands",
    "rerun": "wfsched_core.cli.steer_commands",
}
_COMMAND_MODULES = tuple(dict.fromkeys(BUILTIN_COMMANDS.values()))
PLUGIN_COMMANDS_NOTE = (
    "Installed plugins may add commands, not listed here so that this help stays quick: "
    "'wfsched plugins list' shows the plugins, and 'wfsched COMMAND --help' works for "
    "every command."
)


class WfschedGroup(click.Group):
    """The built-in commands, imported on demand, plus those that plugins add through
    ``wfsched_cli_commands`` (loaded only for a name that is not built in)."""

    _plugins_added = False

    def _add_plugin_commands(self, ctx: click.Context) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        _load_command_modules()  # the built-ins first: a plugin cannot take their names
        app = ctx.find_object(App)
        if app is None:
            app = App()
        try:
            app.hooks.add_cli_commands(self)
        except Exception as exc:  # a broken configuration must not hide the built-ins
            logging.getLogger(__name__).debug("plugin commands not loaded: %s", exc)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _load_command_modules()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = BUILTIN_COMMANDS.get(cmd_name)
        if module is not None:
            importlib.import_module(module)
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_plugin_commands(ctx)
            command = super().get_command(ctx, cmd_name)
        return command


@click.group(cls=WfschedGroup, epilog=PLUGIN_COMMANDS_NOTE,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", metavar="URL",
              help="Database URL (default: SQLite in WFSCHED_HOME).")
@click.option("--config", "config_file", metavar="FILE", type=str,
              help="wfsched.toml to read (default: ./wfsched.toml, then WFSCHED_HOME).")
@click.option("-v", "--verbose", count=True, help="More output; -v shows tracebacks.")
@click.option("-q", "--quiet", count=True, help="Less output.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, envvar="WFSCHED_LOG_FORMAT",
              help="json: one JSON object per line, for log shippers (also the execution "
                   "logs of the workers started from here; env WFSCHED_LOG_FORMAT).")
@click.option("--color/--no-color", "color", default=None,
              help="Colour the output (default: on a terminal, unless NO_COLOR is set).")
@click.version_option(package_name="wfsched-core", prog_name="wfsched")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, config_file: str | None,
        verbose: int, quiet: int, log_format: str, color: bool | None) -> None:
    """wfsched: run workflows as isolated processes, many at once, status in SQL."""
    from wfsched_core.cli.colours import colour_setting

    ctx.color = colour_setting(color)
    verbosity = verbose - quiet
    ctx.obj = App(database_url, config_file, verbosity)
    _configure_logging(verbosity, log_format)


def _configure_logging(verbosity: int, log_format: str = "text") -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        max(-1, min(verbosity, 2)), logging.DEBUG)
    if verbosity <= -2:
        level = logging.CRITICAL
    root = logging.getLogger()
    root.handlers = []
    handler = logging.StreamHandler(sys.stderr)
    from wfsched_core.base.log_format import ENV_LOG_FORMAT, make_formatter

    handler.setFormatter(make_formatter(log_format))
    root.addHandler(handler)
    root.setLevel(level)
    # the processes this command starts (workers, the fork server) log in the same
    # format: an execution's log file follows the scheduler's --log-format
    os.environ[ENV_LOG_FORMAT] = log_format


def _load_command_modules() -> None:
    """Import every built-in command module (a listing; the fork server's warm-up)."""
    for module in _COMMAND_MODULES:
        importlib.import_module(module)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``wfsched`` command: exit codes 0 ok, 1 failure, 2 usage."""
    from wfsched_core.base.errors import WfschedError

    args = sys.argv[1:] if argv is None else argv
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"})
                  for a in args)
    try:
        result: Any = cli.main(args=args, prog_name="wfsched", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("wfsched: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        # one line, as every other error: what is wrong, and where the help is
        where = exc.ctx.command_path if exc.ctx is not None else "wfsched"
        click.echo(f"{where}: error: {exc.format_message()} (see '{where} --help')",
                   err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except WfschedError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        click.echo(f"wfsched: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("wfsched: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # output piped into `head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    sys.exit(result if isinstance(result, int) else 0)
