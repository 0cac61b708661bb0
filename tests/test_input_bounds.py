"""Numbers a user types or writes in wfsched.toml: bounded and typed, one line, exit 2.

Each case here ended in a traceback (OverflowError, IntegrityError, ValueError) or was
accepted silently before issue 14.
"""

from __future__ import annotations

import pytest
from helpers import Wfsched

HUGE = "99999999999999999999"  # 20 digits: more than any SQL integer column holds


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["executions", "show", HUGE], "EXECUTION_ID"),
        (["logs", HUGE], "EXECUTION_ID"),
        (["cancel", HUGE], "EXECUTION_ID"),
        (["execute", HUGE], "EXECUTION_ID"),
        (["executions", "show", "0"], "EXECUTION_ID"),
        (["executions", "list", "--limit", HUGE], "--limit"),
        (["scheduler", "--once", "--max-concurrent", HUGE], "--max-concurrent"),
        (["trigger", "noop", "--priority", HUGE], "--priority"),
        (["scheduler", "--once", "--poll-interval", "inf"], "--poll-interval"),
        (["scheduler", "--once", "--poll-interval", "nan"], "--poll-interval"),
        (["scheduler", "--once", "--grace-period", "1e308"], "--grace-period"),
        (["status", "--watch", "--interval", "nan"], "--interval"),
    ],
)
def test_out_of_range_options_are_usage_errors(wf: Wfsched, args: list[str],
                                               option: str) -> None:
    result = wf.run(*args, check=False, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert option in result.stderr, result.stderr
    assert wf.store.list_executions() == []  # nothing was queued or run by any of that


@pytest.mark.parametrize(
    ("table", "line", "message"),
    [
        ("scheduler", f"max_concurrent = {HUGE}", "[scheduler] max_concurrent must be"),
        ("scheduler", "max_concurrent = inf", "[scheduler] max_concurrent must be"),
        ("scheduler", "max_concurrent = 2.7", "[scheduler] max_concurrent must be a whole"),
        ("scheduler", "heartbeat_timeout = 1e308", "[scheduler] heartbeat_timeout must be"),
        ("scheduler", "notify_budget = 1e308", "[scheduler] notify_budget must be"),
        ("scheduler", "poll_interval = nan", "[scheduler] poll_interval must be"),
        ("scheduler", "fork_spares = 1.5", "[scheduler] fork_spares must be a whole"),
        ("scheduler", "start_mode = 'warp'", "[scheduler] start_mode must be one of"),
        ("workflows.noop", "timeout = -5", "[workflows.noop] timeout must be"),
        ("workflows.noop", "timeout = inf", "[workflows.noop] timeout must be"),
        ("workflows.noop", f"retries = {HUGE}", "[workflows.noop] retries must be"),
        ("workflows.noop", f"priority = {HUGE}", "[workflows.noop] priority must be"),
        ("workflows.noop", "concurrency = 0", "[workflows.noop] concurrency must be"),
        ("workflows.noop", "retry_delay = 1e308", "[workflows.noop] retry_delay must be"),
        ("workflows.noop", "nice = 40", "[workflows.noop] nice must be"),
        ("workflows.noop", "secret_params = 'api_key'", "[workflows.noop] secret_params"),
    ],
)
def test_out_of_range_settings_are_config_errors(wf: Wfsched, table: str, line: str,
                                                 message: str) -> None:
    wf.config_path.write_text(f"[{table}]\n{line}\n")  # without the tests' fast [scheduler]
    # trigger reads both tables; then a scheduler run must not have started anything
    result = wf.run("trigger", "noop", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert wf.store.list_executions() == []


def test_the_bounds_still_let_sensible_settings_through(wf: Wfsched) -> None:
    wf.config_path.write_text(
        "[scheduler]\nmax_concurrent = 3\nfork_spares = 0\ngrace_period = 0\n"
        "poll_interval = 0.2\nheartbeat_interval = 0.5\nheartbeat_timeout = 5\n"
        "[workflows.noop]\ntimeout = 30\nretry_delay = 0\npriority = -5\n")
    (execution_id,) = wf.trigger("noop")
    wf.run("scheduler", "--once")
    assert wf.execution(execution_id).priority == -5


@pytest.mark.parametrize("url", [
    "postgresql://user@db.example:port/wfsched",
    "mysql+pymysql://user:pw@db.example:99999999999999/wfsched",
])
def test_a_database_url_with_a_malformed_host_is_a_usage_error(wf: Wfsched, url: str) -> None:
    result = wf.run("--database-url", url, "executions", "list", check=False, timeout=30)
    assert result.returncode == 2, result.stderr
    assert "malformed database URL" in result.stderr
    assert "pw@" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[notify.webhook]\nurl = "http://127.0.0.1:9/hook"\ntimeout = inf',
         "[notify.webhook] timeout: must be a finite number"),
        ('[notify.webhook]\nurl = "http://127.0.0.1:9/hook"\ntimeout = 1e308',
         "[notify.webhook] timeout: must be a number of at most"),
        ('[notify.webhook]\nurl = "http://127.0.0.1:9/hook"\nretries = 99999999999999999999',
         "[notify.webhook] retries: must be an integer of at most"),
        ('[notify.email]\nhost = "127.0.0.1"\nsender = "a@example.org"\n'
         'recipients = ["b@example.org"]\ntimeout = nan',
         "[notify.email] timeout: must be a finite number"),
        ('[notify.email]\nhost = "127.0.0.1"\nsender = "a@example.org"\nport = 99999',
         "[notify.email] port: must be an integer of at most 65535"),
    ],
)
def test_out_of_range_notifier_settings_are_config_errors(wf: Wfsched, table: str,
                                                          message: str) -> None:
    wf.write_config(table + "\n")
    result = wf.run("notify", "list", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prune", "--older-than", "999999999999d"], "--older-than: '999999999999d' is"),
        (["trigger", "noop", "--params-json", "[" * 50_000], "--params-json is nested too"),
    ],
)
def test_values_that_overflowed_are_usage_errors(wf: Wfsched, args: list[str],
                                                 message: str) -> None:
    result = wf.run(*args, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert wf.store.list_executions() == []
