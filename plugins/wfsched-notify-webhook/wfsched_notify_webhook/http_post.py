"""POST one body to one URL with a timeout, retrying 5xx and connection errors with backoff.

The standard library's ``urllib.request`` does the HTTP: a notifier makes one small POST
now and then, so a client library (httpx) would add a dependency and import time to every
worker for nothing. The plugin imports this module only when a notification is really sent.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from wfsched_core.notify.delivery import DeliveryFailed
from wfsched_notify_webhook import __version__

if TYPE_CHECKING:
    from wfsched_notify_webhook.webhook_config import WebhookTarget

SIGNATURE_HEADER = "X-Wfsched-Signature"
# Statuses worth another try: the server's trouble, or it asked us to slow down.
RETRY_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that answers with a redirect is misconfigured: say so, do not follow
    (urllib would turn the POST into a GET and drop the body)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def signature(secret: str, body: bytes) -> str:
    """The ``X-Wfsched-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(target: WebhookTarget, body: bytes, event: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"wfsched-notify-webhook/{__version__}",
        "X-Wfsched-Event": event,
        # the same id on every retry, so that a receiver can drop duplicates
        "X-Wfsched-Delivery": uuid.uuid4().hex,
    }
    if target.secret:
        headers[SIGNATURE_HEADER] = signature(target.secret, body)
    return headers


def post_with_retries(target: WebhookTarget, body: bytes, headers: dict[str, str],
                      sleep: Callable[[float], None] = time.sleep) -> str:
    """POST until a 2xx; return a one-line detail, or raise DeliveryFailed.

    At most ``retries + 1`` attempts of at most ``timeout`` seconds of silence each, with
    pauses of ``backoff * 2**n`` seconds between them (``target.worst_case_seconds``).
    """
    attempts = target.retries + 1
    problem = ""
    for attempt in range(1, attempts + 1):
        status, problem, retry = _post_once(target, body, headers)
        if status is not None and 200 <= status < 300:
            return f"HTTP {status} after {attempt} attempt{'s' if attempt > 1 else ''}"
        if not retry:
            raise DeliveryFailed(f"{problem} (not retried)")
        if attempt < attempts:
            sleep(target.backoff * 2 ** (attempt - 1))
    raise DeliveryFailed(f"{problem} after {attempts} attempt{'s' if attempts > 1 else ''}")


def _post_once(target: WebhookTarget, body: bytes,
               headers: dict[str, str]) -> tuple[int | None, str, bool]:
    """``(status, problem, worth_retrying)`` of one POST."""
    request = urllib.request.Request(target.url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(request, timeout=target.timeout) as response:
            response.read(64 * 1024)
            return response.status, "", False
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, f"HTTP {exc.code} {exc.reason}", exc.code in RETRY_STATUSES
    except TimeoutError:
        return None, f"no answer within {target.timeout:g}s (timeout)", True
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return None, f"no answer within {target.timeout:g}s (timeout)", True
        return None, f"cannot connect: {reason}", True
    except (OSError, ValueError) as exc:  # reset by peer, bad status line...
        return None, f"{type(exc).__name__}: {exc}", True
