"""The ``container`` spawner (plugins/wfsched-spawner-container) with real podman containers.

No image can be pulled here, so the containers run from a root file system assembled out
of the host's folders (/work/shared/CONTAINERS.md): ``[spawner.container] rootfs`` plus
the host's /usr mounted read-only. Without podman these tests skip (fail under CI=true).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import TEST_CONFIG, Wfsched, wait_until

PODMAN_GLOBAL_ARGS = ["--runtime", "runc", "--cgroup-manager=cgroupfs"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _podman_missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing container runtime is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def podman() -> str:
    """The podman executable, checked to run containers here."""
    executable = shutil.which("podman")
    if executable is None:
        _podman_missing("podman is not installed (apt-get install podman runc)")
    result = subprocess.run([executable, *PODMAN_GLOBAL_ARGS, "version"], capture_output=True,
                            text=True, timeout=60)
    if result.returncode != 0:
        _podman_missing(f"podman does not work here: {result.stderr.strip()[-300:]}")
    return executable


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An almost empty root file system; the host's /usr is mounted into it."""
    root = tmp_path_factory.mktemp("rootfs")
    for name in ("usr", "etc", "tmp", "root", "proc", "sys", "dev"):
        (root / name).mkdir()
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"),
                         ("sbin", "usr/sbin")):
        (root / link).symlink_to(target)
    return root


class Containers:
    """One test's view of podman: its containers carry a name prefix of their own."""

    def __init__(self, podman: str, prefix: str) -> None:
        self.podman = podman
        self.prefix = prefix

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.podman, *PODMAN_GLOBAL_ARGS, *args], capture_output=True,
                              text=True, timeout=60)

    def names(self, label: str | None = None) -> list[str]:
        """Names of this test's containers (all states), optionally with a label."""
        args = ["ps", "--all", "--filter", f"name=^{self.prefix}", "--format", "{{.Names}}"]
        if label:
            args += ["--filter", f"label={label}"]
        return self.command(*args).stdout.split()

    def name(self, execution_id: int) -> str:
        return f"{self.prefix}{execution_id}"

    def inspect(self, name: str) -> dict:
        result = self.command("inspect", name, "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)[0]

    def remove_all(self) -> None:
        for name in self.names():
            self.command("rm", "--force", "--time", "0", name)


@pytest.fixture
def containers(podman: str) -> Iterator[Containers]:
    view = Containers(podman, f"wfsched-test-{uuid.uuid4().hex[:8]}-")
    yield view
    view.remove_all()


def container_config(rootfs: Path, prefix: str, work_dir: Path, extra: str = "",
                     scheduler: str = "") -> str:
    """The test configuration plus a [spawner.container] table for this machine."""
    table = f"""
[spawner.container]
rootfs = "{rootfs}"
global_args = {json.dumps(PODMAN_GLOBAL_ARGS)}
run_args = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
volumes = ["/usr:/usr:ro", "{work_dir}:{work_dir}:rw"]
name_prefix = "{prefix}"
"""
    base = TEST_CONFIG.replace("[scheduler]\n", "[scheduler]\n" + scheduler)
    return base + table + extra


@pytest.fixture
def cwf(wf: Wfsched, rootfs: Path, containers: Containers, work_dir: Path) -> Wfsched:
    """``wf`` configured to run containers (rootfs, podman arguments, a name prefix)."""
    wf.config_path.write_text(container_config(rootfs, containers.prefix, work_dir))
    return wf


@pytest.fixture
def daemons(wf: Wfsched) -> Iterator:
    started: list[subprocess.Popen[str]] = []

    def start(name: str = "scheduler") -> subprocess.Popen[str]:
        process = wf.popen("scheduler", "--spawner", "container", name=name)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _records(wf: Wfsched, work_dir: Path, kind: str, count: int = 1) -> list[dict]:
    return wait_until(lambda: len(wf.records(work_dir, kind)) >= count
                      and wf.records(work_dir, kind), 40, f"{count} {kind} record(s)")


def test_workflows_run_inside_containers(cwf: Wfsched, containers: Containers,
                                         work_dir: Path) -> None:
    ids = cwf.trigger("mark", count=2, dir=work_dir)
    (etl,) = cwf.trigger("etl", rows=4)  # a sample workflow (sample_workflows/)
    result = cwf.run("scheduler", "--spawner", "container", "--once", timeout=120)
    assert "3 completed" in result.stdout + result.stderr
    assert "loaded 4 rows, total 60" in cwf.run("logs", str(etl)).stdout
    records = {r["execution_id"]: r for r in cwf.records(work_dir, "ran")}
    for execution_id in ids:
        execution = cwf.execution(execution_id)
        assert execution.status.value == "completed" and execution.spawner == "container"
        record = records[execution_id]
        # its own PID namespace (the init is PID 1) and its own host name
        assert record["pid"] < 50 and record["pid"] != execution_id
        assert record["host"] == containers.name(execution_id)
    log = cwf.run("logs", str(ids[0])).stdout
    assert f"running mark #{ids[0]}" in log
    assert containers.names() == []  # --rm


def test_a_workflow_attribute_selects_the_container_spawner(
        cwf: Wfsched, rootfs: Path, containers: Containers, work_dir: Path) -> None:
    cwf.config_path.write_text(container_config(
        rootfs, containers.prefix, work_dir, '\n[workflows.mark]\nspawner = "container"\n'))
    (in_container,) = cwf.trigger("mark", dir=work_dir)
    (local,) = cwf.trigger("noop")
    cwf.run("scheduler", "--once", timeout=120)  # the default spawner is local
    assert cwf.execution(in_container).spawner == "container"
    assert cwf.execution(local).spawner == "local"
    (record,) = cwf.records(work_dir, "ran")
    assert record["host"] == containers.name(in_container)


def test_a_timeout_stops_the_container(cwf: Wfsched, rootfs: Path, containers: Containers,
                                       work_dir: Path, daemons) -> None:
    cwf.config_path.write_text(container_config(
        rootfs, containers.prefix, work_dir, "\n[workflows.hang]\ntimeout = 2\n"))
    (execution_id,) = cwf.trigger("hang", dir=work_dir)
    daemons()
    _records(cwf, work_dir, "started")
    assert containers.names() == [containers.name(execution_id)]
    execution = cwf.wait_for_status(execution_id, "failed", timeout=30)
    assert execution.error.startswith("timeout: still running after 2s")
    wait_until(lambda: containers.names() == [], 30, "the container to be stopped and removed")
    # the runtime's stop sent SIGTERM, which reached the worker's handler through --init
    # (nothing else signals it: the worker knows nothing of its timeout)
    (step,) = cwf.store.steps(execution_id)
    assert step.status.value == "failed"
    assert step.error == "WorkerStopped: stopped by signal SIGTERM"


def test_a_container_outlives_a_killed_scheduler_and_is_found_by_its_label(
        cwf: Wfsched, containers: Containers, work_dir: Path, daemons) -> None:
    (execution_id,) = cwf.trigger("hang", dir=work_dir)
    first = daemons()
    _records(cwf, work_dir, "started")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    label = f"wfsched.execution={execution_id}"
    assert containers.names(label) == [containers.name(execution_id)]
    daemons("scheduler2")
    wait_until(lambda: "adopted running execution" in cwf.output_of("scheduler2"), 30,
               "the new scheduler to adopt the running container")
    result = cwf.run("cancel", str(execution_id))
    assert f"execution {execution_id} is cancelled" in result.stdout
    wait_until(lambda: containers.names(label) == [], 30, "the container to be stopped")
    assert len(cwf.records(work_dir, "started")) == 1  # never started twice


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_no_secret_on_the_runtime_command_line(
        db_kind: str, database_url: str, home: Path, testworkflows_path: Path,
        rootfs: Path, containers: Containers, work_dir: Path) -> None:
    secret = f"s3cret-{uuid.uuid4().hex[:8]}"  # trust authentication ignores it
    url = database_url.replace("postgres@", f"postgres:{secret}@")
    runner = Wfsched(home, url, [testworkflows_path])
    runner.config_path.write_text(container_config(rootfs, containers.prefix, work_dir))
    runner.run("db", "upgrade")
    (execution_id,) = runner.trigger("hang", dir=work_dir)
    daemon = runner.popen("scheduler", "--spawner", "container")
    try:
        _records(runner, work_dir, "started")  # the worker reached the database
        details = containers.inspect(containers.name(execution_id))
        command_line = json.dumps([details.get("Path"), details.get("Args"),
                                   details.get("Config", {}).get("Cmd"),
                                   details.get("Config", {}).get("CreateCommand")])
        assert "CreateCommand" in details["Config"]  # podman records the run command
        assert secret not in command_line
        assert "--env-file" in command_line
        assert details["Config"]["Labels"]["wfsched.execution"] == str(execution_id)
        assert secret not in runner.output_of()
    finally:  # the containers fixture removes the container
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(10)
        runner.close()


def test_a_missing_runtime_is_an_error_at_scheduler_start(wf: Wfsched, tmp_path: Path) -> None:
    wf.write_config('[spawner.container]\nruntime = "no-such-container-runtime"\n')
    (execution_id,) = wf.trigger("noop")
    result = wf.run("scheduler", "--spawner", "container", "--once", check=False)
    assert result.returncode == 1
    assert "container runtime 'no-such-container-runtime'" in result.stderr
    assert "Traceback" not in result.stderr
    assert wf.execution(execution_id).status.value == "pending"  # nothing was claimed
    wf.write_config("")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    wf.extra_env["PATH"] = str(empty)
    result = wf.run("scheduler", "--spawner", "container", "--once", check=False)
    assert result.returncode == 1
    assert "no container runtime found: install podman or docker" in result.stderr


# --- unit tests: the command line, the env file, the runtime's answers -------------------


def _request(tmp_path: Path, **extra: object):
    from wfsched_core import Workflow
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.framework.spawning import SpawnRequest

    class Report(Workflow):
        pass

    spec = WorkflowSpec(name="report", cls=Report, source="test", extra=dict(extra))
    env = {"WFSCHED_DATABASE_URL": "postgresql://app:hunter2@db/wf", "WFSCHED_OWNER": "s1",
           "WFSCHED_LOG_CAPTURED": "1", "PATH": "/usr/bin", "AWS_SECRET": "nope"}
    return SpawnRequest(7, ["/venv/bin/python", "-m", "wfsched_core", "execute", "7"], env,
                        tmp_path / "logs" / "7.log", spec)


def _spawner(tmp_path: Path, table: dict):
    from wfsched_spawner_container.spawner import ContainerSpawner

    from wfsched_core.base.config import Settings

    settings = Settings(home=tmp_path, database_url="postgresql://app:hunter2@db/wf",
                        data={"spawner": {"container": table}})
    return ContainerSpawner(settings)


class FakeRuntime:
    """Records the argv of ``run`` and what the env file held at that moment."""

    executable = "/usr/bin/podman"

    def __init__(self) -> None:
        self.argv: list[str] = []
        self.env_file: Path | None = None
        self.env_text = ""
        self.env_mode = 0

    def run_detached(self, argv: list[str]) -> str:
        self.argv = argv
        self.env_file = Path(argv[argv.index("--env-file") + 1])
        self.env_mode = self.env_file.stat().st_mode & 0o777
        self.env_text = self.env_file.read_text()
        return "abc123"


def test_the_run_command_carries_image_limits_labels_and_no_secret(tmp_path: Path) -> None:
    spawner = _spawner(tmp_path, {"image": "default:1", "cpus": 2, "memory": "1g",
                                  "pass_env": ["PATH"], "global_args": ["--log-level=warn"]})
    runtime = FakeRuntime()
    spawner._runtime = runtime
    handle = spawner.start(_request(tmp_path, image="reports:2.1", memory="256m"))
    argv = runtime.argv
    assert argv[:4] == ["/usr/bin/podman", "--log-level=warn", "run", "--detach"]
    assert "--rm" in argv and "--init" in argv
    assert argv[argv.index("--name") + 1] == "wfsched-exec-7"
    assert "wfsched.execution=7" in argv and "wfsched.scheduler=s1" in argv
    assert argv[argv.index("--cpus") + 1] == "2" and argv[argv.index("--memory") + 1] == "256m"
    assert argv[argv.index("--network") + 1] == "host"
    assert argv[-6:] == ["reports:2.1", "/venv/bin/python", "-m", "wfsched_core", "execute", "7"]
    assert f"{tmp_path.resolve()}:{tmp_path.resolve()}:rw" in argv  # logs (and SQLite)
    assert not any("hunter2" in arg for arg in argv)
    # the secret travels in a private file that is gone once the runtime has read it
    assert runtime.env_mode == 0o600
    assert "WFSCHED_DATABASE_URL=postgresql://app:hunter2@db/wf" in runtime.env_text
    assert "PATH=/usr/bin" in runtime.env_text and "AWS_SECRET" not in runtime.env_text
    assert "WFSCHED_LOG_CAPTURED" not in runtime.env_text  # the worker writes its log itself
    assert not runtime.env_file.exists()
    assert handle.data["name"] == "wfsched-exec-7" and handle.data["container_id"] == "abc123"


def test_the_trace_context_reaches_the_containerised_worker(tmp_path: Path) -> None:
    """What a tracing plugin adds to the worker's environment (TRACEPARENT, W3C, and its
    WFSCHED_* variables) goes into the container; other variables still do not."""
    from wfsched_spawner_container.command import worker_environment
    from wfsched_spawner_container.options import ContainerOptions

    from wfsched_core.base.config import Settings

    request = _request(tmp_path)
    request.env.update({"TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                        "WFSCHED_WORKER_INSTRUMENTATION": "wfsched_otel.worker"})
    env = worker_environment(request, ContainerOptions.from_settings(
        Settings(home=tmp_path, database_url="sqlite://")))
    assert env["TRACEPARENT"] == request.env["TRACEPARENT"]
    assert env["WFSCHED_WORKER_INSTRUMENTATION"] == "wfsched_otel.worker"
    assert "AWS_SECRET" not in env and "TRACESTATE" not in env


def test_rootfs_python_override_and_missing_image(tmp_path: Path) -> None:
    from wfsched_spawner_container.command import image_arguments, run_argv
    from wfsched_spawner_container.options import ContainerOptions

    from wfsched_core.base.errors import SpawnerError

    request = _request(tmp_path)
    options = ContainerOptions(rootfs="/srv/rootfs", python="python3", mount_python=False)
    argv = run_argv("podman", options, request, env={}, env_file=tmp_path / "env",
                    home=tmp_path, config_path=None, installation="x")
    assert argv[-7:] == ["--rootfs", "/srv/rootfs", "python3", "-m", "wfsched_core",
                         "execute", "7"]
    with pytest.raises(SpawnerError, match="rootfs works with podman only"):
        image_arguments(request, options, "/usr/bin/docker")
    with pytest.raises(SpawnerError, match=r"no container image for workflow 'report'"):
        image_arguments(request, ContainerOptions(), "podman")


def test_ps_output_of_podman_and_docker_is_understood() -> None:
    from wfsched_spawner_container.runtime import _parse_ps

    podman = json.dumps([
        {"Names": ["wfsched-exec-3"], "State": "running", "ExitCode": 0,
         "Labels": {"wfsched.execution": "3"}},
        {"Names": ["wfsched-exec-4"], "State": "exited", "ExitCode": 137,
         "Labels": {"wfsched.execution": "4"}},
        {"Names": ["other"], "State": "running", "Labels": {}},
    ])
    states = {s.execution_id: s for s in _parse_ps(podman)}
    assert set(states) == {3, 4}
    assert states[3].running and not states[4].running and states[4].exit_code == 137
    docker = ('{"Names":"wfsched-exec-5","State":"running","Labels":"a=b,wfsched.execution=5"}\n'
              '{"Names":"wfsched-exec-6","State":"exited","Labels":"wfsched.execution=6"}\n')
    states = {s.execution_id: s for s in _parse_ps(docker)}
    assert states[5].running and states[5].name == "wfsched-exec-5"
    assert not states[6].running and states[6].exit_code is None


def test_a_bad_container_table_is_a_one_line_config_error(wf: Wfsched) -> None:
    wf.write_config('[spawner.container]\ncpus = "many"\nimages = "typo"\n')
    result = wf.run("workflows", "list", check=False)
    assert result.returncode == 2
    assert "[spawner.container] cpus must be a positive number" in result.stderr
    assert "Traceback" not in result.stderr
