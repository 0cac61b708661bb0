"""Who may act: the bearer token for the API, a signed session cookie and CSRF for pages.

The token comes from the environment only. A browser proves it once on the login form and
then holds a session cookie signed with a key made at start-up (a restart logs everyone
out, which is what an operator expects of a restarted dashboard). Forms carry a CSRF token
derived from a second cookie and the same key, and the cookies are ``SameSite=Strict``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

SESSION_COOKIE = "wfsched_session"
CSRF_COOKIE = "wfsched_csrf"
SESSION_SECONDS = 12 * 3600
# Failed logins (form or bearer token) one client address may make in a window; then it
# waits until the oldest of them leaves the window, whatever token it sends.
FAILED_LOGIN_LIMIT = 10
FAILED_LOGIN_WINDOW = 60.0

log = logging.getLogger(__name__)


class FailedLogins:
    """Failed logins per client address in a sliding window: logged, then limited."""

    def __init__(self, limit: int = FAILED_LOGIN_LIMIT,
                 window: float = FAILED_LOGIN_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[client]  # the table holds only addresses that failed lately
            return deque()
        return times

    def retry_after(self, client: str) -> int:
        """Seconds ``client`` must wait before its next try (0: it may try now)."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.limit:
                return 0
            return max(1, int(times[0] + self.window - now + 0.999))

    def failed(self, client: str, how: str) -> None:
        """Record (and log, without the token sent) one failed login from ``client``."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times
            count = len(times)
        log.warning("failed login from %s with %s (%d in the last %.0f s; %d allowed)",
                    client, how, count, self.window, self.limit)


@dataclass
class Guard:
    """Checks tokens, sessions and CSRF for one running dashboard."""

    token: str | None
    read_open: bool
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    failed_logins: FailedLogins = field(default_factory=FailedLogins)

    # --- the token ---------------------------------------------------------------------

    @property
    def acting_enabled(self) -> bool:
        return self.token is not None

    def token_matches(self, candidate: str | None) -> bool:
        """Constant-time comparison with the configured token."""
        if self.token is None or not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def bearer(self, request: Request) -> str | None:
        """The token of an ``Authorization: Bearer ...`` header, if any."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return value.strip()

    # --- sessions ----------------------------------------------------------------------

    def _sign(self, purpose: str, value: str) -> str:
        return hmac.new(self.key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def new_session(self) -> str:
        """A cookie value for a browser that just proved it knows the token."""
        body = f"{secrets.token_urlsafe(16)}.{int(time.time())}"
        return f"{body}.{self._sign('session', body)}"

    def session_valid(self, request: Request) -> bool:
        if self.token is None:
            return False
        value = request.cookies.get(SESSION_COOKIE, "")
        body, _, signature = value.rpartition(".")
        if not body or not hmac.compare_digest(signature, self._sign("session", body)):
            return False
        try:
            issued = int(body.rsplit(".", 1)[1])
        except (IndexError, ValueError):
            return False
        return time.time() - issued < SESSION_SECONDS

    def can_act(self, request: Request) -> bool:
        """A browser session or a bearer token that matches."""
        return self.session_valid(request) or self.token_matches(self.bearer(request))

    def can_read(self, request: Request) -> bool:
        """Reading needs the token (or a session) too, unless ``read_open`` (see command.py)."""
        return self.read_open or self.can_act(request)

    @staticmethod
    def client(request: Request) -> str:
        """The address a request came from (for the failed-login limit and the log)."""
        return request.client.host if request.client else "unknown"

    # --- CSRF --------------------------------------------------------------------------

    def csrf_seed(self, request: Request) -> str:
        """The browser's CSRF cookie, or a new value to set (see ``remember_csrf``)."""
        seed = request.cookies.get(CSRF_COOKIE, "")
        if len(seed) < 16:
            seed = getattr(request.state, "new_csrf_seed", "") or secrets.token_urlsafe(16)
            request.state.new_csrf_seed = seed
        return seed

    def csrf_token(self, request: Request) -> str:
        """The value forms must send back in their ``csrf`` field."""
        return self._sign("csrf", self.csrf_seed(request))

    def csrf_valid(self, request: Request, submitted: str | None) -> bool:
        seed = request.cookies.get(CSRF_COOKIE, "")
        if len(seed) < 16 or not submitted:
            return False
        if not hmac.compare_digest(submitted, self._sign("csrf", seed)):
            return False
        # Defence in depth: a cross-site form post carries a foreign Origin. "null" is what
        # sandboxed frames, data: URLs and some redirects send: foreign, not absent.
        origin = request.headers.get("origin")
        if origin is not None:
            host = request.headers.get("host", "")
            if origin == "null" or origin.split("://", 1)[-1] != host:
                return False
        return True

    def remember_csrf(self, request: Request, response: Response) -> None:
        """Set the CSRF cookie on a response when this request made a new one."""
        seed = getattr(request.state, "new_csrf_seed", None)
        if seed:
            response.set_cookie(CSRF_COOKIE, seed, httponly=True, samesite="strict", path="/")

    def log_in(self, response: Response) -> None:
        response.set_cookie(SESSION_COOKIE, self.new_session(), max_age=SESSION_SECONDS,
                            httponly=True, samesite="strict", path="/")

    @staticmethod
    def log_out(response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")
