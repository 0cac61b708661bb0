"""Talking to the container runtime (podman or docker) through its command line."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from wfsched_core.base.errors import SpawnerError
from wfsched_spawner_container.command import LABEL_EXECUTION, LABEL_INSTALLATION

log = logging.getLogger(__name__)

KNOWN_RUNTIMES = ("podman", "docker")
_GONE_STATES = {"exited", "stopped", "dead", "removing"}


def find_runtime(configured: str | None) -> str:
    """The runtime's executable: the configured one, else podman or docker on PATH."""
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise SpawnerError(f"container runtime {configured!r} ([spawner.container] runtime) "
                               "is not installed or not on PATH")
        return found
    for name in KNOWN_RUNTIMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise SpawnerError("no container runtime found: install podman or docker, or set "
                       "[spawner.container] runtime to its path")


@dataclass
class ContainerState:
    """One container as the runtime lists it."""

    execution_id: int
    name: str
    running: bool
    exit_code: int | None


class ContainerRuntime:
    """``podman``/``docker`` commands as methods; every call is an argv list, no shell."""

    def __init__(self, executable: str, global_args: tuple[str, ...] = ()) -> None:
        self.executable = executable
        self.global_args = list(global_args)

    @property
    def is_podman(self) -> bool:
        return "docker" not in self.executable.rsplit("/", 1)[-1]

    def command(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run one runtime command; a runtime that hangs or is missing is a SpawnerError."""
        argv = [self.executable, *self.global_args, *args]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise SpawnerError(f"{self.executable} {args[0]} did not answer within {timeout:g}s")
        except OSError as exc:
            raise SpawnerError(f"cannot run {self.executable}: {exc.strerror or exc}")

    def check(self) -> None:
        """Raise SpawnerError unless the runtime answers (a docker CLI without an engine)."""
        result = self.command("version", timeout=30)
        if result.returncode != 0:
            raise SpawnerError(f"container runtime {self.executable} does not work here: "
                               f"{_last_line(result.stderr)}")

    def list_containers(self, installation: str) -> dict[int, ContainerState] | None:
        """This installation's containers by execution id (None: the runtime did not answer)."""
        fmt = "json" if self.is_podman else "{{json .}}"
        try:
            result = self.command("ps", "--all", "--no-trunc", "--filter",
                                  f"label={LABEL_INSTALLATION}={installation}",
                                  "--format", fmt, timeout=30)
        except SpawnerError as exc:
            log.warning("%s", exc)
            return None
        if result.returncode != 0:
            log.warning("%s ps failed: %s", self.executable, _last_line(result.stderr))
            return None
        return {state.execution_id: state for state in _parse_ps(result.stdout)}

    def stop(self, name: str, grace: float) -> None:
        """The runtime's own stop (SIGTERM, then SIGKILL after ``grace``), then kill."""
        seconds = max(1, int(grace + 0.999))
        result = self.command("stop", "--time", str(seconds), name, timeout=seconds + 60)
        if result.returncode != 0 and not _is_missing(result.stderr):
            log.warning("%s stop %s failed (%s); killing it", self.executable, name,
                        _last_line(result.stderr))
            killed = self.command("kill", name, timeout=60)
            if killed.returncode != 0 and not _is_missing(killed.stderr):
                raise SpawnerError(f"cannot stop container {name}: {_last_line(killed.stderr)}")

    def run_detached(self, argv: list[str]) -> str:
        """Run a full ``run --detach`` argv; return the container id."""
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise SpawnerError(f"{self.executable} run did not answer within 120s")
        except OSError as exc:
            raise SpawnerError(f"cannot run {self.executable}: {exc.strerror or exc}")
        if result.returncode != 0:
            raise SpawnerError(f"{self.executable} run failed: {_last_line(result.stderr)}")
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def _parse_ps(text: str) -> list[ContainerState]:
    """Podman prints a JSON array; docker prints one JSON object per line."""
    text = text.strip()
    if not text:
        return []
    try:
        rows: Any = json.loads(text)
    except json.JSONDecodeError:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(rows, dict):
        rows = [rows]
    states = []
    for row in rows:
        labels = _labels(row.get("Labels"))
        try:
            execution_id = int(labels.get(LABEL_EXECUTION, ""))
        except ValueError:
            continue
        names = row.get("Names")
        name = names[0] if isinstance(names, list) and names else str(names or "")
        state = str(row.get("State", "")).lower()
        code = row.get("ExitCode") if state in _GONE_STATES else None
        states.append(ContainerState(execution_id, name, state not in _GONE_STATES,
                                     code if isinstance(code, int) else None))
    return states


def _labels(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str):  # docker: "a=1,b=2"
        return dict(item.split("=", 1) for item in value.split(",") if "=" in item)
    return {}


def _is_missing(stderr: str) -> bool:
    text = stderr.lower()
    return "no such container" in text or "no container with name" in text


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"
