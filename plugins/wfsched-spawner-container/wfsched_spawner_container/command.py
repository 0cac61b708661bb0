"""Building the ``podman run``/``docker run`` command of one worker (pure functions).

Nothing secret is ever put on the command line: the worker's environment (which holds
the database URL) goes through an env file of mode 0600 that the spawner removes as
soon as the runtime has read it.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import SpawnerError
from wfsched_core.base.execution_log import ENV_LOG_CAPTURED

if TYPE_CHECKING:
    from wfsched_core.framework.spawning import SpawnRequest
    from wfsched_spawner_container.options import ContainerOptions

LABEL_EXECUTION = "wfsched.execution"
LABEL_SCHEDULER = "wfsched.scheduler"
LABEL_INSTALLATION = "wfsched.installation"
ENV_OWNER = "WFSCHED_OWNER"  # the variable the scheduler sets for its workers (worker.py)

# Variables every worker inherits besides WFSCHED_*: what Python and logging need, and
# the W3C trace context a tracing plugin gives the worker (wfsched_worker_environment).
_INHERITED = ("PYTHONPATH", "PYTHONUNBUFFERED", "LANG", "LC_ALL", "TZ", "TRACEPARENT",
              "TRACESTATE")


def container_name(options: ContainerOptions, execution_id: int) -> str:
    return f"{options.name_prefix}{execution_id}"


def installation_id(database_url: str) -> str:
    """A label value telling this installation's containers from another's on one host.

    A digest, so that the database URL (and its password) never shows in labels.
    """
    return hashlib.sha256(database_url.encode()).hexdigest()[:16]


def worker_environment(request: SpawnRequest, options: ContainerOptions) -> dict[str, str]:
    """The variables the containerised worker gets (through the env file only)."""
    source = request.env
    env = {k: v for k, v in source.items() if k.startswith("WFSCHED_")}
    # the runtime does not point the worker's output at the log file: the worker
    # writes the file itself (its home is mounted) and echoes to the container's output
    env.pop(ENV_LOG_CAPTURED, None)
    for name in (*_INHERITED, *options.pass_env):
        if name in source:
            env[name] = source[name]
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the code is mounted read-only
    extra = (request.spec.extra.get("environment") if request.spec else None) or {}
    if not isinstance(extra, dict):
        raise SpawnerError("the workflow's environment must be a table of NAME = value")
    env.update({str(k): str(v) for k, v in extra.items()})
    return env


def write_env_file(env: dict[str, str]) -> Path:
    """Write ``NAME=value`` lines to a new file readable by its owner only."""
    for name, value in env.items():
        if "\n" in value or "\n" in name or "=" in name:
            raise SpawnerError(f"environment variable {name.splitlines()[0]!r} cannot be passed "
                               "to a container (a newline or '=' in it)")
    descriptor, path = tempfile.mkstemp(prefix="wfsched-env-", suffix=".list")  # mode 0600
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.writelines(f"{name}={value}\n" for name, value in env.items())
    return Path(path)


def python_mounts(env: dict[str, str]) -> list[Path]:
    """Directories the host's Python needs inside the container, outermost only."""
    import wfsched_core

    candidates = [Path(sys.prefix), Path(sys.base_prefix),
                  Path(wfsched_core.__file__).resolve().parent.parent]
    candidates += [Path(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    kept: list[Path] = []
    for path in sorted({p.resolve() for p in candidates if p.is_dir()}, key=lambda p: len(p.parts)):
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


def image_arguments(request: SpawnRequest, options: ContainerOptions, runtime: str) -> list[str]:
    """``IMAGE`` or ``--rootfs DIR``: the workflow's image, else the configured default."""
    extra = request.spec.extra if request.spec else {}
    image = extra.get("image")
    if image:
        return [str(image)]
    if options.rootfs:
        if "docker" in Path(runtime).name:
            raise SpawnerError("[spawner.container] rootfs works with podman only; "
                               "set an image for docker")
        return ["--rootfs", options.rootfs]
    if options.image:
        return [options.image]
    workflow = request.spec.name if request.spec else "?"
    raise SpawnerError(f"no container image for workflow {workflow!r}: set `image` on the "
                       f"workflow, in [workflows.{workflow}], or [spawner.container] image "
                       "(or rootfs)")


def run_argv(runtime: str, options: ContainerOptions, request: SpawnRequest, *,
             env: dict[str, str], env_file: Path, home: Path, config_path: Path | None,
             installation: str) -> list[str]:
    """The complete argv of ``RUNTIME [global args] run -d ...`` for one worker."""
    name = container_name(options, request.execution_id)
    extra: dict[str, Any] = request.spec.extra if request.spec else {}
    argv = [runtime, *options.global_args, "run", "--detach", "--rm",
            "--name", name,
            # its own host name: the PID the worker records (1 or so) must never be
            # mistaken for a process of the host by `wfsched cancel`
            "--hostname", name,
            "--label", f"{LABEL_EXECUTION}={request.execution_id}",
            "--label", f"{LABEL_SCHEDULER}={request.env.get(ENV_OWNER, '')}",
            "--label", f"{LABEL_INSTALLATION}={installation}",
            "--network", options.network,
            "--env-file", str(env_file),
            "--workdir", str(home)]
    if options.init:
        argv.append("--init")
    cpus = extra.get("cpus", options.cpus)
    if cpus:
        argv += ["--cpus", f"{float(cpus):g}"]
    memory = extra.get("memory", options.memory)
    if memory:
        argv += ["--memory", str(memory)]
    # the home holds the log files (and a SQLite database): read-write
    argv += ["--volume", f"{home}:{home}:rw"]
    if config_path is not None and home not in config_path.resolve().parents:
        argv += ["--volume", f"{config_path.resolve()}:{config_path.resolve()}:ro"]
    if options.mount_python:
        for path in python_mounts(env):
            argv += ["--volume", f"{path}:{path}:ro"]
    for volume in options.volumes:
        argv += ["--volume", volume]
    argv += list(options.run_args)
    argv += image_arguments(request, options, runtime)
    worker = list(request.argv)
    if options.python:
        worker[0] = options.python
    return argv + worker
