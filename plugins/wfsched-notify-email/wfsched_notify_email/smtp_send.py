"""Send one message over SMTP (STARTTLS, SSL or plain), retrying what may pass later."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage

from wfsched_core.notify.delivery import DeliveryFailed
from wfsched_notify_email.email_config import EmailTarget


def send_with_retries(target: EmailTarget, message: EmailMessage,
                      sleep: Callable[[float], None] = time.sleep) -> str:
    """Deliver ``message``; return a one-line detail, or raise DeliveryFailed.

    Connection problems and temporary (4xx) SMTP replies are retried, ``retries`` times,
    with pauses of ``backoff * 2**n`` seconds; a refusal (5xx, bad login) is not.
    """
    attempts = target.retries + 1
    problem = ""
    for attempt in range(1, attempts + 1):
        try:
            refused = _send_once(target, message)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(f"login refused: {exc.smtp_code} {_text(exc.smtp_error)}")
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"every recipient refused: {', '.join(exc.recipients)}")
        except smtplib.SMTPResponseException as exc:
            problem = f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
            if not 400 <= exc.smtp_code < 500:
                raise DeliveryFailed(f"{problem} (not retried)")
        except TimeoutError:
            problem = f"no answer within {target.timeout:g}s (timeout)"
        except ssl.SSLError as exc:
            raise DeliveryFailed(f"TLS failed: {exc} (not retried)")
        except (smtplib.SMTPException, OSError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            sent = f"accepted by {target.host} after {attempt} attempt{'s' if attempt > 1 else ''}"
            return sent + (f"; refused: {', '.join(refused)}" if refused else "")
        if attempt < attempts:
            sleep(target.backoff * 2 ** (attempt - 1))
    raise DeliveryFailed(f"{problem} after {attempts} attempt{'s' if attempts > 1 else ''}")


def _send_once(target: EmailTarget, message: EmailMessage) -> list[str]:
    """One SMTP session; returns the recipients the server refused."""
    context = ssl.create_default_context(cafile=target.ca_file) \
        if target.security != "none" else None
    smtp: smtplib.SMTP
    if target.security == "ssl":
        smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout,
                                context=context)
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
    with smtp:
        smtp.ehlo()
        if target.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if target.username and target.password:
            smtp.login(target.username, target.password)
        refused = smtp.send_message(message, from_addr=target.sender,
                                    to_addrs=list(target.recipients))
    return sorted(refused)


def _text(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())
