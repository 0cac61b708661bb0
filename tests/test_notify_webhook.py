"""The webhook notifier against a real HTTP server on loopback: body, headers, signature,
retries, timeouts, Slack format, filters and configuration errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from helpers import Wfsched, wait_until

from wfsched_core.base.records import EXECUTION_JSON_FIELDS

SECRET = "test-secret-value-9f8e7d"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HookServer:
    """An HTTP server that records every POST and answers with scripted statuses."""

    base: str = ""
    requests: list[Received] = field(default_factory=list)
    # path -> statuses to answer, in order (then 200)
    script: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def posts(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def hook_server() -> Iterator[HookServer]:
    state = HookServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
                statuses = state.script.get(self.path) or []
                status = statuses.pop(0) if statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections (the kernel does) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    listener.close()


def _notify_test(wf: Wfsched, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = wf.run("notify", "test", "--json", *args, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout), result.stderr


def test_json_body_headers_and_signature(wf: Wfsched, hook_server: HookServer) -> None:
    wf.write_config(f'[notify.webhook]\nurl = "{hook_server.url("/hook")}"\n'
                    'secret_env = "WFSCHED_TEST_WEBHOOK_SECRET"\nevents = ["failed"]\n')
    wf.extra_env["WFSCHED_TEST_WEBHOOK_SECRET"] = SECRET
    code, report, stderr = _notify_test(wf, "--event", "failed")
    assert code == 0, report
    assert [entry["ok"] for entry in report] == [True]
    (post,) = hook_server.posts("/hook")
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["X-Wfsched-Event"] == "failed"
    expected = hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
    assert post.headers["X-Wfsched-Signature"] == f"sha256={expected}"
    body = post.json
    assert body["event"] == "failed"
    assert body["workflow"] == "notify-test"
    assert list(body["execution"]) == list(EXECUTION_JSON_FIELDS)
    assert body["execution"]["status"] == "failed"
    assert body["will_retry"] is False
    assert "test notification" in body["error"]
    assert body["host"] and body["sent_at"].endswith("Z")
    # the secret never reaches output, and the printed target hides the path
    listing = wf.run("notify", "list")
    for text in (json.dumps(report), stderr, listing.stdout, listing.stderr):
        assert SECRET not in text
    assert "/hook" not in listing.stdout and "failed" in listing.stdout


def test_failed_execution_is_posted_once_by_its_worker(
        wf: Wfsched, hook_server: HookServer) -> None:
    wf.write_config(f'[notify.webhook]\nurl = "{hook_server.url("/hook")}"\n'
                    'events = ["failed", "completed"]\n')
    (failing,) = wf.trigger("chatty", fail=1)
    (passing,) = wf.trigger("noop")
    wf.run("scheduler", "--once", check=False)
    posts = wait_until(lambda: len(hook_server.posts()) >= 2 and hook_server.posts(), 20,
                       "two webhook posts")
    by_id = {p.json["execution"]["id"]: p.json for p in posts}
    assert len(posts) == 2 and set(by_id) == {failing, passing}
    assert by_id[failing]["event"] == "failed"
    assert "<b>bad</b> input" in by_id[failing]["error"]
    assert by_id[failing]["execution"]["status"] == "failed"
    assert by_id[passing]["event"] == "completed"
    assert "will_retry" not in by_id[passing]


def test_retries_after_500_and_no_retry_after_404(wf: Wfsched,
                                                 hook_server: HookServer) -> None:
    hook_server.script = {"/flaky": [500, 503], "/gone": [404, 404, 404]}
    wf.write_config(f'[notify.webhook]\nurl = ["{hook_server.url("/flaky")}", '
                    f'"{hook_server.url("/gone")}"]\nretries = 3\nbackoff = 0.05\n')
    code, report, _ = _notify_test(wf, "--event", "completed")
    assert code == 1  # one destination failed
    flaky, gone = report
    assert flaky["ok"] is True and "after 3 attempts" in flaky["detail"]
    assert gone["ok"] is False and "404" in gone["detail"] and "not retried" in gone["detail"]
    attempts = hook_server.posts("/flaky")
    assert len(attempts) == 3 and len(hook_server.posts("/gone")) == 1
    # one delivery id across the retries, so that a receiver can drop duplicates
    assert len({a.headers["X-Wfsched-Delivery"] for a in attempts}) == 1
    assert attempts[0].body == attempts[-1].body


def test_server_that_never_answers_costs_a_bounded_time(wf: Wfsched,
                                                        silent_server: str) -> None:
    wf.write_config(f'[notify.webhook]\nurl = "{silent_server}"\ntimeout = 0.5\n'
                    'retries = 1\nbackoff = 0.1\n')
    started = time.monotonic()
    code, (entry,), _ = _notify_test(wf, "--event", "failed")
    elapsed = time.monotonic() - started
    assert code == 1 and entry["ok"] is False
    assert "timeout" in entry["detail"] and "2 attempts" in entry["detail"]
    assert elapsed < 15, f"notify test took {elapsed:.1f}s for a 1.1s worst case"


def test_exit_is_held_up_at_most_max_delay_on_exit(wf: Wfsched, silent_server: str) -> None:
    # unbounded, this delivery would take 4 x 5 s + pauses; the process that fired the
    # event (the scheduler, which recorded its worker's report) waits 1 s for it at exit
    wf.write_config(f'[notify.webhook]\nurl = "{silent_server}"\nevents = ["completed"]\n'
                    'timeout = 5\nretries = 3\nmax_delay_on_exit = 1\n')
    (execution_id,) = wf.trigger("noop")
    started = time.monotonic()
    result = wf.run("scheduler", "--once")
    elapsed = time.monotonic() - started
    assert wf.execution(execution_id).status.value == "completed"
    assert elapsed < 15, f"scheduler --once took {elapsed:.1f}s"
    assert "gave up on 1 webhook notification(s)" in result.stderr


def test_slack_format(wf: Wfsched, hook_server: HookServer) -> None:
    wf.write_config(f'[notify.webhook]\nurl = "{hook_server.url("/slack")}"\n'
                    'format = "slack"\n')
    code, _, _ = _notify_test(wf, "--event", "failed", "--workflow", "nightly<report>")
    assert code == 0
    (post,) = hook_server.posts("/slack")
    body = post.json
    assert set(body) == {"text", "blocks"}
    assert "nightly&lt;report&gt; #0 failed" in body["text"]
    assert body["blocks"][0]["type"] == "section"
    assert any("test notification" in json.dumps(block) for block in body["blocks"])


def test_event_and_workflow_filters(wf: Wfsched, hook_server: HookServer) -> None:
    wf.write_config(f'[notify.webhook]\nurl = "{hook_server.url("/hook")}"\n'
                    'events = ["completed"]\nworkflows = ["nightly"]\n')
    code, (entry,), _ = _notify_test(wf, "--event", "failed", "--workflow", "nightly")
    assert code == 1 and entry["ok"] is None and "event 'failed'" in entry["detail"]
    code, (entry,), _ = _notify_test(wf, "--event", "completed", "--workflow", "other")
    assert code == 1 and entry["ok"] is None and "workflow 'other'" in entry["detail"]
    code, (entry,), _ = _notify_test(wf, "--event", "completed", "--workflow", "nightly")
    assert code == 0 and entry["ok"] is True
    assert len(hook_server.posts()) == 1
    assert entry["events"] == ["completed"] and entry["workflows"] == ["nightly"]


@pytest.mark.parametrize(("table", "message"), [
    ('url = "http://127.0.0.1:9/x"\nevents = ["faild"]', "events: unknown event 'faild'"),
    ('url = "ftp://example.com/x"', "url: ftp://example.com/…: must start with http"),
    ('events = ["failed"]', "url: is required"),
    ('url = "http://127.0.0.1:9/x"\ntimeout = "soon"', "timeout: must be a number"),
    ('url = "http://127.0.0.1:9/x"\nformat = "teams"', "format: must be one of json, slack"),
    ('url = "http://127.0.0.1:9/x"\nsecret = "abc"', "secret: unknown key"),
    ('url = "http://127.0.0.1:9/x"\nsecret_env = "WFSCHED_TEST_UNSET_SECRET"',
     "secret_env: names the environment variable WFSCHED_TEST_UNSET_SECRET, which is not set"),
])  # fmt: skip
def test_bad_configuration_stops_with_one_line(wf: Wfsched, table: str, message: str) -> None:
    wf.write_config(f"[notify.webhook]\n{table}\n")
    result = wf.run("notify", "list", check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "[notify.webhook]" in result.stderr and message in result.stderr


def test_plugins_list_shows_the_notifier_and_its_hooks(wf: Wfsched) -> None:
    plugins = {p["name"]: p for p in wf.json("plugins", "list")}
    webhook = plugins["wfsched-notify-webhook"]
    assert webhook["error"] is None and webhook["distribution"] == "wfsched-notify-webhook"
    assert "wfsched_execution_failed" in webhook["hooks"]
    assert "wfsched_notify_report" in webhook["hooks"]


def test_notify_commands_without_any_notifier(wf: Wfsched) -> None:
    assert "no notifier is configured" in wf.run("notify", "list").stdout
    result = wf.run("notify", "test", check=False)
    assert result.returncode == 1 and "no notifier is configured" in result.stdout
