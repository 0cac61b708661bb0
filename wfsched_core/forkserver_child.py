"""A child of the fork server: becoming a worker process and running its execution.

Two ways in, both ending in :func:`_become_worker`:

- :func:`run_child` — forked for a request, it becomes the worker at once;
- :func:`run_spare` — forked *ahead* of any request (the fork server keeps one such spare),
  it does what does not depend on the request — its own process group, fresh signal
  dispositions, the inherited descriptors closed, and its own database connection opened
  — then waits for the request on its pipe. The fork, that set-up and the connection (on
  PostgreSQL an authenticated session: tens of milliseconds) are then no longer between a
  trigger and the workflow's first line (issue 8, W3).

Either way the connection is the child's own, opened after the fork: the server holds
none when it forks (see ``forkserver.py``).
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import traceback
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from wfsched_core.forkserver import WarmApp

# The only command a forked child runs: the tail of ``python -m wfsched_core execute ID``.
WORKER_MODULE_ARGS = ("-m", "wfsched_core", "execute")


def run_child(request: dict[str, Any], server_fds: tuple[int, ...],
              warm: WarmApp | None) -> NoReturn:
    """In a child forked for ``request``: become a fresh worker process and run it."""
    def detach_and_run() -> int:
        _detach(server_fds)
        return _become_worker(request, warm, close_inherited=True)

    _exit_after(detach_and_run)


def run_spare(request_fd: int, server_fds: tuple[int, ...], warm: WarmApp | None) -> NoReturn:
    """In a spare child: prepare, wait for a request on ``request_fd``, then run it.

    End of input before a request (the server stopped or died) ends the spare quietly.
    """
    def prepare_and_run() -> int:
        _detach(server_fds)
        _close_inherited(keep=request_fd)  # before opening our own connection
        _open_own_connection(warm)
        request = _read_request(request_fd)
        os.close(request_fd)
        if request is None:
            return 0
        return _become_worker(request, warm, close_inherited=False)

    _exit_after(prepare_and_run)


def _exit_after(body: Any) -> NoReturn:
    code = 1
    try:
        code = body()
        # os._exit below skips what a fresh interpreter's exit does: run the exit handlers
        # (notifiers wait there, within a bound, for deliveries still in flight)
        import atexit

        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - nothing may return into the server's loop
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        os._exit(code)


def _detach(server_fds: tuple[int, ...]) -> None:
    """Own process group, fresh signal dispositions, the server's descriptors closed."""
    os.setpgid(0, 0)
    _reset_signals()
    for fd in server_fds:
        os.close(fd)


def _close_inherited(keep: int) -> None:
    """Close every inherited descriptor above 2 but ``keep``."""
    os.closerange(3, keep)
    os.closerange(keep + 1, _max_fd())


def _open_own_connection(warm: WarmApp | None) -> None:
    """Open the spare's own database connection into the warm store's pool."""
    if warm is None or warm.store is None:
        return
    _own_pool(warm.store)
    try:
        with warm.store.engine.connect():
            pass  # back into the pool, open, for the worker to use
    except Exception:  # noqa: BLE001 - the worker connects (and reports) when it runs
        pass


def _read_request(fd: int) -> dict[str, Any] | None:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def _become_worker(request: dict[str, Any], warm: WarmApp | None,
                   close_inherited: bool) -> int:
    _redirect_output(request["log_path"], close_inherited)
    _take_environment(request["env"])
    if request.get("cwd"):
        os.chdir(request["cwd"])
    argv = list(request["argv"])
    sys.argv = [argv[0], *argv[len(WORKER_MODULE_ARGS):]]
    if warm is not None and not warm.fits(request["env"], request.get("workflow")):
        warm = None
    return _run_worker(int(argv[-1]), warm)


def _take_environment(env: dict[str, str]) -> None:
    """Make ``os.environ`` exactly ``env``, changing only what differs: the request's
    environment is mostly the server's own, and each change is a ``putenv``."""
    for key in [key for key in os.environ if key not in env]:
        del os.environ[key]
    for key, value in env.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _reset_signals() -> None:
    """The dispositions a fresh interpreter starts with."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def _redirect_output(log_path: str, close_inherited: bool) -> None:
    """stdin from /dev/null, stdout and stderr appended to the execution's log file."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    if close_inherited:
        # whatever else the server inherited or imported opened is not the worker's business
        os.closerange(3, _max_fd())
    else:  # a spare closed them before it opened its connection, which stays
        os.close(log_fd)
        os.close(null_fd)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    # unbuffered, as PYTHONUNBUFFERED=1 makes an exec'd worker
    sys.stdout = io.TextIOWrapper(open(1, "wb", buffering=0, closefd=False),  # noqa: SIM115
                                  encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
    sys.stderr = io.TextIOWrapper(open(2, "wb", buffering=0, closefd=False),  # noqa: SIM115
                                  encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
    sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr


def _max_fd() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 65536)
    except (ValueError, OSError):
        return 4096


def _run_worker(execution_id: int, warm: WarmApp | None) -> int:
    """What ``wfsched execute ID`` does, with the warm App when it fits.

    The store's connections are always opened here, in the child.
    """
    from wfsched_core.cli.app import App
    from wfsched_core.cli.main import _configure_logging
    from wfsched_core.errors import WfschedError
    from wfsched_core.worker import run_execution

    _configure_logging(0)
    app = warm.app if warm is not None else App()
    try:
        if warm is not None and warm.store is not None:
            store = warm.store
            _own_pool(store)
        else:
            store = app.store
        return run_execution(execution_id, store, app.hooks, app.settings)
    except WfschedError as exc:
        print(f"wfsched: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("wfsched: interrupted", file=sys.stderr)
        return 130


def _own_pool(store: Any) -> None:
    """Make sure the store's pool holds only this process's connections: the server's is
    empty after its warm-up (then it is used as it is); anything else is replaced."""
    pool = store.engine.pool
    if getattr(pool, "wfsched_owner_pid", None) == os.getpid():
        return
    try:
        empty = pool.checkedin() == 0 and pool.checkedout() == 0
    except AttributeError:  # a pool class that cannot tell: replace it to be safe
        empty = False
    if not empty:
        store.engine.dispose(close=False)  # a pool of its own, whatever the parent had
    store.engine.pool.wfsched_owner_pid = os.getpid()
