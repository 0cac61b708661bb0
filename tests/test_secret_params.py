"""``secret_params``: stored as given, shown masked by the CLI and in notifications."""

from __future__ import annotations

import json
import sqlite3

import pytest
from helpers import Wfsched, wait_until
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from test_notify_webhook import HookServer, hook_server  # noqa: F401 - the fixture

from wfsched_core.authoring.secrets import MASK, mask_params
from wfsched_core.authoring.workflow import Workflow, resolve_spec, step
from wfsched_core.store.db.engine import make_engine

SECRET = "sk-live-5ecr3t-value"
SECRET_CONFIG = '[workflows.noop]\nsecret_params = ["api_key", "password"]\n'


def test_mask_params_replaces_only_the_named_values() -> None:
    params = {"api_key": SECRET, "region": "eu", "password": {"nested": 1}}
    masked = mask_params(params, ("api_key", "password", "absent"))
    assert masked == {"api_key": MASK, "region": "eu", "password": MASK}
    assert params["api_key"] == SECRET  # the caller's dict is left alone
    assert mask_params(params, ()) == params
    assert mask_params(None, ("api_key",)) == {}


def test_secret_params_is_a_workflow_attribute_and_a_setting() -> None:
    class Flow(Workflow):
        secret_params = ["token"]

        @step
        def one(self, ctx):  # pragma: no cover - never run
            pass

    assert resolve_spec("flow", Flow, "test").secret_params == ("token",)
    overridden = resolve_spec("flow", Flow, "test", {"secret_params": ["a", "b"]})
    assert overridden.secret_params == ("a", "b")


def test_the_cli_shows_secret_params_masked(wf: Wfsched) -> None:
    wf.write_config(SECRET_CONFIG)
    (execution_id,) = wf.trigger("noop", api_key=SECRET, region="eu")
    # stored as given: the workflow gets the real value
    assert wf.execution(execution_id).params == {"api_key": SECRET, "region": "eu"}
    shown = [
        wf.run("executions", "show", str(execution_id)).stdout,
        wf.run("executions", "show", str(execution_id), "--json").stdout,
        wf.run("executions", "list").stdout,
        wf.run("executions", "list", "--json").stdout,
    ]
    assert not any(SECRET in text for text in shown), shown
    assert json.loads(shown[1])["params"] == {"api_key": MASK, "region": "eu"}
    assert json.loads(shown[3])[0]["params"] == {"api_key": MASK, "region": "eu"}
    assert "region" in shown[0] and MASK in shown[0]


def test_notifications_carry_secret_params_masked(wf: Wfsched,
                                                  hook_server: HookServer) -> None:  # noqa: F811
    wf.write_config(SECRET_CONFIG + f'[notify.webhook]\nurl = "{hook_server.url("/hook")}"\n'
                                    'events = ["queued", "started", "completed"]\n')
    (execution_id,) = wf.trigger("noop", api_key=SECRET, region="eu")
    wf.run("scheduler", "--once")
    posts = wait_until(lambda: len(hook_server.posts()) >= 3 and hook_server.posts(), 20,
                       "queued, started and completed posts")
    assert sorted(p.json["event"] for p in posts) == ["completed", "queued", "started"]
    for post in posts:
        assert SECRET.encode() not in post.body
        assert post.json["execution"]["params"] == {"api_key": MASK, "region": "eu"}
    # the workflow itself ran with the real value, as it was stored
    row = sqlite3.connect(wf.database_url.removeprefix("sqlite:///")).execute(
        "SELECT params FROM workflow_executions WHERE id = ?", (execution_id,)).fetchone()
    assert SECRET in row[0]


def test_database_errors_never_carry_the_values(tmp_path) -> None:
    """A failed statement's message (logged, or shown with -v) hides its parameters."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    insert = text("INSERT INTO t (id, params) VALUES (1, :params)")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, params TEXT)")
        conn.execute(insert, {"params": SECRET})
    with pytest.raises(IntegrityError) as failure, engine.begin() as conn:
        conn.execute(insert, {"params": SECRET})
    assert SECRET not in str(failure.value) and "UNIQUE" in str(failure.value)
    engine.dispose()


@pytest.mark.parametrize("start_mode", ["fork", "exec"])
def test_the_worker_log_line_shows_secret_params_masked(wf: Wfsched, start_mode: str) -> None:
    wf.write_config(f'start_mode = "{start_mode}"\n' + SECRET_CONFIG)
    (execution_id,) = wf.trigger("noop", api_key=SECRET, region="eu")
    wf.run("-v", "scheduler", "--once")
    log_text = (wf.home / "logs" / f"{execution_id}.log").read_text()
    assert "region" in log_text and SECRET not in log_text
