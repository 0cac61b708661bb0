"""``wfsched deploy systemd|supervisor|cron``: service files with this installation's paths.

The templates live in ``wfsched_core/deploy_templates`` (package data); ``deploy/`` in the
repository holds the same files rendered for a typical installation. Nothing here writes
files: the output is printed, for the administrator to read and install.

The database URL is written into the file only when it came from the command line or the
environment *and* holds no password; a URL with a password goes into a root-only
environment file (systemd) or the 0600 ``wfsched.toml`` of the data directory (supervisor,
cron), and appears in the output only masked.
"""

from __future__ import annotations

import math
import os
import string
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import click

from wfsched_core.app import App
from wfsched_core.cli import option_types
from wfsched_core.cli.main import cli

pass_app = click.make_pass_decorator(App)

TEMPLATES = {
    "systemd": "wfsched.service",
    "supervisor": "wfsched-supervisor.conf",
    "cron": "wfsched.cron",
    "logrotate": "wfsched.logrotate",
}
COMMENT = {"systemd": "#", "supervisor": ";", "cron": "#", "logrotate": "#"}
DEFAULT_PRUNE_AGE = "30d"  # the cron file's nightly prune, unless [scheduler] retention says
ENVIRONMENT_FILE = "/etc/wfsched/wfsched.env"
STOP_MARGIN = 15  # seconds beyond grace_period + kill_grace before the final SIGKILL
_HOME_TREES = ("/home", "/root", "/run/user")


@dataclass
class DeployValues:
    """What a rendered file needs to know about the installation."""

    wfsched: str
    home: Path
    user: str = "wfsched"
    group: str = ""  # the user's primary group; "" for one named as the user
    max_concurrent: int = 5
    heartbeat_interval: float = 2.0
    grace_period: float = 30.0
    kill_grace: float = 5.0
    prune_age: str = DEFAULT_PRUNE_AGE
    config_path: Path | None = None
    database_url: str | None = None  # only when it came from the command line/environment
    database_shown: str = ""  # masked, for comments
    extra_writable: list[Path] = field(default_factory=list)
    python_prefixes: list[str] = field(default_factory=list)
    #: the service user could not reach these paths (see deploy_checks.py)
    warnings: list[str] = field(default_factory=list)

    @property
    def has_password(self) -> bool:
        from sqlalchemy.engine import make_url

        if not self.database_url:
            return False
        try:
            return make_url(self.database_url).password is not None
        except Exception:  # noqa: BLE001 - an unparsable URL is never printed
            return True

    @property
    def stop_seconds(self) -> int:
        return math.ceil(self.grace_period + self.kill_grace + STOP_MARGIN)

    @property
    def watchdog_seconds(self) -> int:
        # pinged once per heartbeat: leave room for a few missed ones and a slow database;
        # and never shorter than a graceful stop, during which the loop no longer ticks
        return max(60, math.ceil(self.heartbeat_interval * 10), self.stop_seconds)


def values_for(app: App, user: str | None, max_concurrent: int | None,
               home: str | None) -> DeployValues:
    """The values of this installation, with the command's options applied."""
    from wfsched_core.base.config import ENV_DATABASE_URL
    from wfsched_core.cli.deploy_checks import primary_group, reachability_warnings
    from wfsched_core.store.db.engine import mask_url

    settings = app.settings
    script = Path(sys.executable).parent / "wfsched"
    wfsched = _quote(str(script)) if script.exists() else \
        f"{_quote(sys.executable)} -m wfsched_core"
    home_path = (Path(home).expanduser() if home else settings.home).absolute()
    explicit = app.database_url or os.environ.get(ENV_DATABASE_URL) or None
    from_config = bool(settings.config_path and "database_url" in settings.data)
    if explicit or from_config:
        shown = mask_url(settings.database_url)
        shown += "" if explicit else " (from the configuration)"
    else:  # the service's own default: SQLite in *its* data directory (--home)
        shown = f"sqlite:///{home_path / 'wfsched.db'} (SQLite in the data directory)"
    writable = []
    if explicit and explicit.startswith("sqlite"):
        database = _sqlite_file(explicit)
        if database is not None and not _inside(database, home_path.absolute()):
            writable.append(database.parent)
    account = user or "wfsched"
    config_path = settings.config_path.absolute() if settings.config_path else None
    return DeployValues(
        wfsched=wfsched,
        home=home_path,
        user=account,
        group=primary_group(account),
        max_concurrent=int(max_concurrent or settings.scheduler_option("max_concurrent")),
        heartbeat_interval=float(settings.scheduler_option("heartbeat_interval")),
        grace_period=float(settings.scheduler_option("grace_period")),
        kill_grace=float(settings.scheduler_option("kill_grace")),
        prune_age=str(settings.scheduler_option("retention") or DEFAULT_PRUNE_AGE),
        config_path=config_path,
        database_url=explicit,
        database_shown=shown,
        extra_writable=writable,
        python_prefixes=sorted({sys.prefix, sys.base_prefix}),
        warnings=reachability_warnings(
            account, interpreter=Path(sys.executable),
            script=script if script.exists() else None, prefix=Path(sys.prefix),
            home=home_path, config=config_path),
    )


def example_values() -> DeployValues:
    """A typical installation: what the files in the repository's ``deploy/`` show."""
    return DeployValues(
        wfsched="/opt/wfsched/venv/bin/wfsched", home=Path("/var/lib/wfsched"),
        database_url="postgresql://wfsched:secret@db.example.org/wfsched",
        database_shown="postgresql://wfsched:***@db.example.org/wfsched",
        python_prefixes=["/opt/wfsched/venv", "/usr"])


def render(kind: str, values: DeployValues) -> str:
    """One service file, filled in."""
    template = (resources.files("wfsched_core") / "deploy_templates" / TEMPLATES[kind]).read_text()
    fields = {
        "wfsched": values.wfsched,
        "home": str(values.home),
        "user": values.user,
        "group": values.group or values.user,
        "max_concurrent": str(values.max_concurrent),
        "heartbeat_interval": f"{values.heartbeat_interval:g}",
        "grace_period": f"{values.grace_period:g}",
        "kill_grace": f"{values.kill_grace:g}",
        "timeout_stop_sec": f"{values.stop_seconds}s",
        "stop_wait_secs": str(values.stop_seconds),
        "watchdog_sec": f"{values.watchdog_seconds}s",
        "prune_age": values.prune_age,
        "state_directory": _state_directory(values),
        "notes": "\n".join(f"{COMMENT[kind]} {n}" for n in _notes(kind, values)),
        "environment": _environment(kind, values),
        "read_write_paths": " ".join(str(p) for p in [values.home, *values.extra_writable]),
        "protect_home": _protect_home(values),
        "private_tmp": _private_tmp(values),
    }
    lines = []
    for line in template.splitlines():
        stripped = line.strip()
        # a line that is only a placeholder disappears when it has nothing to say
        if stripped.startswith("${") and stripped.endswith("}") and \
                not fields.get(stripped[2:-1], "x"):
            continue
        lines.append(string.Template(line).substitute(fields))
    return "\n".join(lines) + "\n"


def _notes(kind: str, values: DeployValues) -> list[str]:
    notes = [f"WARNING: {w}" for w in values.warnings]
    if kind == "logrotate":
        return notes
    notes.append(f"Database: {values.database_shown}")
    if values.has_password:
        if kind == "systemd":
            notes += ["The database URL holds a password, so it is not written here: put",
                      f"WFSCHED_DATABASE_URL=<the URL> in {ENVIRONMENT_FILE} (owner root, mode 0600)."]
        else:
            notes += ["The database URL holds a password, so it is not written here: put",
                      f'database_url = "<the URL>" in {values.home}/wfsched.toml '
                      f"(owner {values.user}, mode 0600)."]
    return notes


def _environment(kind: str, values: DeployValues) -> str:
    variables: dict[str, str] = {}
    if values.config_path is not None:
        variables["WFSCHED_CONFIG"] = str(values.config_path)
    if values.database_url and not values.has_password:
        variables["WFSCHED_DATABASE_URL"] = values.database_url
    if kind == "systemd":
        lines = [f"Environment={k}={_systemd_escape(v)}" for k, v in variables.items()]
        if values.has_password:
            lines.append(f"EnvironmentFile={ENVIRONMENT_FILE}")
        return "\n".join(lines)
    if kind == "supervisor":
        variables = {"WFSCHED_HOME": str(values.home), **variables}
        # supervisor expands %(name)s in values: a literal % is written %%
        return ",".join(f'{k}="{v.replace("%", "%%")}"' for k, v in variables.items())
    return "\n".join(f"{k}={v}" for k, v in variables.items())


def _state_directory(values: DeployValues) -> str:
    """``StateDirectory=``: systemd creates a data directory under /var/lib for the
    service user before each start (and makes it writable under ProtectSystem=strict)."""
    if values.home.parent != Path("/var/lib"):
        return ""
    return (f"# systemd creates {values.home} (owned by {values.user}) if it is missing.\n"
            f"StateDirectory={values.home.name}\nStateDirectoryMode=0750")


def _protect_home(values: DeployValues) -> str:
    paths = [str(values.home), values.wfsched, *values.python_prefixes,
             str(values.config_path or "")]
    if any(p.startswith(tree + "/") or p == tree for p in paths for tree in _HOME_TREES):
        return ("# The installation or data directory is under a home directory: it stays\n"
                "# readable (ReadWritePaths= above keeps the data directory writable).\n"
                "ProtectHome=read-only")
    return "ProtectHome=yes"


def _private_tmp(values: DeployValues) -> str:
    if any(_inside(values.home, Path(tmp)) for tmp in ("/tmp", "/var/tmp")):
        return ("# The data directory is under /tmp: a private /tmp would hide it.\n"
                "PrivateTmp=no")
    return "PrivateTmp=yes"


def _systemd_escape(value: str) -> str:
    value = value.replace("%", "%%")  # systemd specifiers
    return f'"{value}"' if any(c.isspace() for c in value) else value


def _quote(path: str) -> str:
    return f'"{path}"' if any(c.isspace() for c in path) else path


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    try:
        database = make_url(url).database
    except Exception:  # noqa: BLE001
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute()


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.relative_to(directory)
        return True
    except ValueError:
        return False


@cli.command()
@click.argument("kind", type=click.Choice(list(TEMPLATES)))
@click.option("--user", metavar="USER", help="The account that runs wfsched (default wfsched).")
@click.option("--max-concurrent", type=option_types.MAX_CONCURRENT_TYPE, default=None,
              help="Workers at once (default: the configured max_concurrent).")
@click.option("--home", metavar="DIR", help="The data directory (default: WFSCHED_HOME).")
@click.option("--example", is_flag=True, hidden=True,
              help="Render for a typical installation (the files in deploy/).")
@pass_app
def deploy(app: App, kind: str, user: str | None, max_concurrent: int | None,
           home: str | None, example: bool) -> None:
    """Print a systemd unit, supervisor program, cron file or logrotate rule for this
    installation.

    Paths are this installation's (its interpreter and wfsched script, the data
    directory); a database URL with a password is never printed. Warns (on stderr) when
    the service user could not reach them, or the data directory does not exist yet.
    """
    from wfsched_core.cli.deploy_checks import create_data_directory_command

    values = example_values() if example else values_for(app, user, max_concurrent, home)
    click.echo(render(kind, values), nl=False)
    for warning in values.warnings:
        click.echo(f"wfsched deploy: warning: {warning}", err=True)
    if not example and not values.home.exists() and \
            not (kind == "systemd" and _state_directory(values)):
        click.echo(f"wfsched deploy: the data directory {values.home} does not exist yet: "
                   f"create it before the first start with: "
                   f"{create_data_directory_command(values)}", err=True)
