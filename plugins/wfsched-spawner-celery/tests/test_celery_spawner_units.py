"""The parts of the ``celery`` spawner that need no broker: options, masking, argv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Wfsched
from wfsched_spawner_celery.options import BrokerError, CeleryOptions, mask_broker_url
from wfsched_spawner_celery.worker_command import worker_argv

from wfsched_core.base.config import Settings
from wfsched_core.base.errors import ConfigError


def _options(tmp_path: Path, table: dict, monkeypatch: pytest.MonkeyPatch,
             env_url: str | None = None) -> CeleryOptions:
    if env_url is None:
        monkeypatch.delenv("WFSCHED_CELERY_BROKER_URL", raising=False)
    else:
        monkeypatch.setenv("WFSCHED_CELERY_BROKER_URL", env_url)
    settings = Settings(home=tmp_path, database_url="sqlite://",
                        data={"spawner": {"celery": table}})
    return CeleryOptions.from_settings(settings)


def test_the_environment_wins_and_the_password_is_masked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = _options(tmp_path, {"broker_url": "redis://127.0.0.1:1/0", "queue": "etl"},
                       monkeypatch, env_url="amqp://wf:s3cret@mq.internal:5672//")
    assert options.broker_url == "amqp://wf:s3cret@mq.internal:5672//"
    assert options.masked_broker_url == "amqp://wf:***@mq.internal:5672//"
    assert options.queue == "etl"
    options.check_broker_url()  # amqp is one of Celery's transports
    assert mask_broker_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
    assert mask_broker_url("redis://host:6379/0") == "redis://host:6379/0"


@pytest.mark.parametrize("url,problem", [("http://host/", "expected redis:// or amqp://"),
                                         ("redis://host:notaport/0", "bad Celery broker URL"),
                                         ("redis:///0", "no host")])
def test_a_bad_broker_url_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           url: str, problem: str) -> None:
    options = _options(tmp_path, {"broker_url": url}, monkeypatch)
    with pytest.raises(BrokerError, match=problem) as raised:
        options.check_broker_url()
    assert raised.value.exit_code == 2


@pytest.mark.parametrize("table,problem", [({"queues": "x"}, "unknown key 'queues'"),
                                           ({"redispatch_after": 0}, "positive number"),
                                           ({"queue": ""}, "non-empty")])
def test_a_bad_table_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       table: dict, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        _options(tmp_path, table, monkeypatch)


def test_the_worker_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = _options(tmp_path, {}, monkeypatch)
    argv = worker_argv(options, (), None, None, ())
    assert argv[1:6] == ["-m", "celery", "-A", "wfsched_spawner_celery.app", "worker"]
    assert argv[argv.index("--queues") + 1] == "wfsched"
    assert argv[argv.index("--hostname") + 1] == "wfsched@%h"
    argv = worker_argv(options, ("a", "b"), "w1@%h", 4, ("--pool", "prefork"))
    assert argv[argv.index("--queues") + 1] == "a,b"
    assert argv[argv.index("--concurrency") + 1] == "4" and argv[-2:] == ["--pool", "prefork"]


def test_plugins_list_shows_the_package_and_a_bad_table_is_one_line(wf: Wfsched) -> None:
    plugins = {p["name"]: p for p in wf.json("plugins", "list")}
    entry = plugins["wfsched-spawner-celery"]
    assert entry["error"] is None and "wfsched_spawners" in entry["hooks"], json.dumps(entry)
    wf.write_config("[spawner.celery]\nconnect_timeout = -1\n")
    result = wf.run("executions", "list", check=False)
    assert result.returncode == 2 and "connect_timeout" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
