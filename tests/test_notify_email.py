"""The email notifier against a real SMTP server (aiosmtpd) on loopback: plain, STARTTLS
with login, implicit SSL, the body's error and log tail, and configuration errors."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import Wfsched, wait_until

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp")
trustme = pytest.importorskip("trustme")

USER, PASSWORD = "wfsched", "smtp-password-5b1c"


@dataclass
class Mailbox:
    """What the SMTP server received, and who logged in."""

    port: int = 0
    messages: list[Any] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(email.message_from_bytes(envelope.content,
                                                          policy=email.policy.default))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> Any:
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        if ok:
            with self.lock:
                self.logins.append(auth_data.login.decode())
        return aiosmtpd_smtp.AuthResult(success=ok, handled=False)

    def received(self, count: int = 1) -> list[Any]:
        return wait_until(lambda: len(self.messages) >= count and list(self.messages), 20,
                          f"{count} mail(s) at the SMTP server")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def certificate_authority(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


def _server_context(ca: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def _start(mailbox: Mailbox, **options: Any) -> Any:
    mailbox.port = _free_port()
    controller = aiosmtpd_controller.Controller(mailbox, hostname="127.0.0.1",
                                                port=mailbox.port, **options)
    controller.start()
    return controller


@pytest.fixture
def plain_smtp() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = _start(mailbox)
    yield mailbox
    controller.stop()


@pytest.fixture
def starttls_smtp(certificate_authority: tuple[Any, Path]) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = _start(mailbox, tls_context=_server_context(certificate_authority[0]),
                        require_starttls=True, authenticator=mailbox.authenticate,
                        auth_require_tls=True)
    yield mailbox
    controller.stop()


def _table(port: int, extra: str = "") -> str:
    return (f'[notify.email]\nhost = "127.0.0.1"\nport = {port}\n'
            'sender = "wfsched@example.com"\n'
            f'recipients = ["ops@example.com", "dev@example.com"]\n{extra}\n')


def test_failed_execution_mail_has_error_and_log_tail(wf: Wfsched,
                                                      plain_smtp: Mailbox) -> None:
    wf.write_config(_table(plain_smtp.port, 'security = "none"'))
    (failing,) = wf.trigger("chatty", fail=1)
    (passing,) = wf.trigger("noop")  # completed: not among the default events
    wf.run("scheduler", "--once", check=False)
    (message,) = plain_smtp.received()
    assert wf.execution(passing).status.value == "completed"
    assert plain_smtp.envelopes == [("wfsched@example.com",
                                     ["ops@example.com", "dev@example.com"])]
    assert message["Subject"].startswith(f"[wfsched] chatty #{failing} failed")
    assert message["X-Wfsched-Event"] == "failed"
    body = message.get_content()
    assert "Will retry: no" in body
    assert "ValueError: <b>bad</b> input" in body
    assert "Last " in body and "stdout line: <script>alert(1)</script>" in body
    assert "log record from step talk" in body
    assert f"wfsched logs {failing}" in body


def test_a_run_waiting_for_approval_mails_the_approve_command(
        wf: Wfsched, plain_smtp: Mailbox, work_dir: Path) -> None:
    wf.write_config(_table(plain_smtp.port, 'security = "none"'))  # the default events
    (execution_id,) = wf.trigger("approve_deploy", dir=work_dir)
    assert wf.run("scheduler", "--once", check=False).returncode == 3  # held: waiting
    (message,) = plain_smtp.received()
    assert message["X-Wfsched-Event"] == "waiting"
    assert message["Subject"] == (f"[wfsched] approve_deploy #{execution_id} waiting for "
                                  f"approval of step deploy; approve with: wfsched approve "
                                  f"{execution_id}")
    lines = [" ".join(line.split()) for line in message.get_content().splitlines()]
    assert f"Approve: wfsched approve {execution_id}" in lines
    assert f"Reject: wfsched reject {execution_id} --reason TEXT" in lines


def test_starttls_with_login_from_the_environment(
        wf: Wfsched, starttls_smtp: Mailbox, certificate_authority: tuple[Any, Path]) -> None:
    ca_file = certificate_authority[1]
    wf.write_config(_table(starttls_smtp.port, f'security = "starttls"\nusername = "{USER}"\n'
                           'password_env = "WFSCHED_TEST_SMTP_PASSWORD"\n'
                           f'ca_file = "{ca_file}"\nevents = ["timed_out"]'))
    wf.extra_env["WFSCHED_TEST_SMTP_PASSWORD"] = PASSWORD
    result = wf.run("notify", "test", "--event", "timed_out", "--json")
    (entry,) = json.loads(result.stdout)
    assert entry["ok"] is True, entry
    assert PASSWORD not in result.stdout + result.stderr
    (message,) = starttls_smtp.received()
    assert starttls_smtp.logins == [USER]
    assert "timed out" in message["Subject"]
    # a wrong password is refused at once, not retried
    wf.extra_env["WFSCHED_TEST_SMTP_PASSWORD"] = "wrong"
    result = wf.run("notify", "test", "--event", "timed_out", "--json", check=False)
    (entry,) = json.loads(result.stdout)
    assert result.returncode == 1 and entry["ok"] is False
    assert "login refused" in entry["detail"]


def test_implicit_ssl(wf: Wfsched, certificate_authority: tuple[Any, Path]) -> None:
    ca, ca_file = certificate_authority
    mailbox = Mailbox()
    controller = _start(mailbox, ssl_context=_server_context(ca))
    try:
        wf.write_config(_table(mailbox.port, f'security = "ssl"\nca_file = "{ca_file}"'))
        result = wf.run("notify", "test", "--event", "failed", "--json")
        assert json.loads(result.stdout)[0]["ok"] is True
        (message,) = mailbox.received()
        assert "notify-test #0 failed" in message["Subject"]
    finally:
        controller.stop()


@pytest.mark.parametrize(("extra", "message"), [
    ('recipients = "ops@example.com"\nsender = "nobody"', "sender: 'nobody' is not an email"),
    ('username = "me"', "password_env: is required with username 'me'"),
    ('username = "me"\npassword_env = "WFSCHED_TEST_UNSET_PASSWORD"',
     "password_env: names the environment variable WFSCHED_TEST_UNSET_PASSWORD"),
    ('security = "tls"', "security: must be one of starttls, ssl, none"),
    ('events = ["failed", "exploded"]', "events: unknown event 'exploded'"),
])  # fmt: skip
def test_bad_configuration_stops_with_one_line(wf: Wfsched, extra: str, message: str) -> None:
    table = _table(2525, extra)
    if 'recipients = "' in extra:  # the case replaces the recipients and the sender
        table = table.replace('recipients = ["ops@example.com", "dev@example.com"]\n', "")
        table = table.replace('sender = "wfsched@example.com"\n', "")
    wf.write_config(table)
    result = wf.run("notify", "list", check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "[notify.email]" in result.stderr and message in result.stderr


def test_missing_recipients(wf: Wfsched) -> None:
    wf.write_config('[notify.email]\nhost = "127.0.0.1"\nsender = "wfsched@example.com"\n')
    result = wf.run("trigger", "noop", check=False)
    assert result.returncode == 2
    assert "[notify.email] recipients: is required" in result.stderr
