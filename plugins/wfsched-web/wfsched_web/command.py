"""``wfsched web``: check the address and the token, build the app, serve it with uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import os

import click

from wfsched_core.app import App
from wfsched_core.base.errors import ConfigError, UsageError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_TOKEN_ENV = "WFSCHED_WEB_TOKEN"


def is_loopback(host: str) -> bool:
    """True for an address that only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def read_token(token_env: str) -> str | None:
    """The token from the environment variable ``token_env`` (None when unset or empty)."""
    value = os.environ.get(token_env, "").strip()
    return value or None


def read_open_setting(app: App) -> bool:
    """``[web] read_open`` of wfsched.toml (default false); any other key is an error."""
    table = app.settings.section("web")
    unknown = sorted(set(table) - {"read_open"})
    if unknown:
        raise ConfigError(f"unknown [web] key(s) {', '.join(map(repr, unknown))} (read_open)")
    value = table.get("read_open", False)
    if not isinstance(value, bool):
        raise ConfigError(f"[web] read_open must be true or false, not {value!r}")
    return value


def reading_is_open(host: str, token: str | None, read_open: bool) -> bool:
    """Whether parameters and logs may be read without the token.

    With a token set, reading needs it on every address: on a shared host every account
    reaches 127.0.0.1. ``[web] read_open = true`` opens reading again for a trusted
    single-user host, on loopback only. Without a token (loopback only, see check_bind)
    there is nothing to ask for, and reading is open.
    """
    if token is None:
        return True
    if read_open and not is_loopback(host):
        raise UsageError(f"[web] read_open = true serves parameters and logs without the "
                         f"token, which only a loopback address may do; not {host}")
    return read_open


def check_bind(host: str, token: str | None, token_env: str) -> None:
    """Refuse to expose the dashboard beyond this machine without a token."""
    if token is None and not is_loopback(host):
        raise UsageError(
            f"refusing to serve on {host}, which other machines can reach, without a token: "
            f"set the environment variable {token_env} (or name another with --token-env), "
            "or bind 127.0.0.1"
        )


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on; anything but loopback needs a token.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on.")
@click.option("--token-env", default=DEFAULT_TOKEN_ENV, show_default=True, metavar="NAME",
              help="Environment variable holding the token that trigger and cancel need.")
@click.pass_obj
def web(app: App, host: str, port: int, token_env: str) -> int:
    """Serve the dashboard: workflows, live executions, logs, timeline and a JSON API."""
    token = read_token(token_env)
    check_bind(host, token, token_env)
    read_open = reading_is_open(host, token, read_open_setting(app))
    # Build the store and catalog before serving: request threads then only read them.
    store = app.store
    app.hooks.catalog().all()

    import uvicorn

    from wfsched_web.application import WebConfig, create_app

    config = WebConfig(host=host, port=port, token=token, token_env=token_env,
                       read_open=read_open)
    asgi_app = create_app(app, config)
    where = f"[{host}]" if ":" in host else host
    acting = (f"{'trigger and cancel' if read_open else 'reading, trigger and cancel'} "
              f"need the token in {token_env}" if token
              else f"trigger and cancel are disabled: {token_env} is not set")
    click.echo(f"wfsched web: serving http://{where}:{port}/ (database {store.describe()}; "
               f"{acting})", err=True)
    uvicorn.run(asgi_app, host=host, port=port, log_level="warning" if app.verbosity <= 0
                else "info", access_log=app.verbosity > 0, server_header=False)
    return 0
