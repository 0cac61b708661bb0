"""systemd service integration through the ``NOTIFY_SOCKET`` protocol (no systemd library).

With ``Type=notify`` systemd sets ``NOTIFY_SOCKET`` (a path, or ``@name`` for an abstract
socket) and, with ``WatchdogSec=``, ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``). We send, as
single datagrams:

- ``READY=1`` once the scheduler has registered and is about to claim work;
- ``WATCHDOG=1`` from the main loop (the ``wfsched_scheduler_tick`` hook, once per
  heartbeat interval), so a scheduler whose loop hangs is restarted;
- ``STATUS=running N/M, pending P`` with each tick, shown by ``systemctl status``;
- ``STOPPING=1`` when the scheduler stops claiming.

Without ``NOTIFY_SOCKET`` (not run by systemd) every hook here does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING

from wfsched_core.framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.base.records import SchedulerRow

log = logging.getLogger(__name__)


def socket_address(value: str) -> str | bytes:
    """The address to send to: ``@name`` is the abstract socket ``\\0name``."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


def send_notify(address: str, message: str) -> bool:
    """Send one notification datagram; False (logged) when it cannot be delivered."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(socket_address(address))
            sock.sendall(message.encode())
        return True
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", address, exc)
        return False


def watchdog_seconds(environ: Mapping[str, str], pid: int) -> float | None:
    """The watchdog period systemd asks of this process, or None when there is none."""
    usec = environ.get("WATCHDOG_USEC")
    owner = environ.get("WATCHDOG_PID")
    if not usec or (owner and owner.strip() != str(pid)):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None


class SystemdNotify:
    """The plugin object: reads the environment at configure time, notifies from hooks."""

    def __init__(self) -> None:
        self.address: str | None = None
        self.watchdog: float | None = None

    @hookimpl
    def wfsched_configure(self, settings: Settings) -> None:
        self.address = os.environ.get("NOTIFY_SOCKET") or None
        self.watchdog = watchdog_seconds(os.environ, os.getpid()) if self.address else None
        if self.watchdog is None:
            return
        interval = float(settings.scheduler_option("heartbeat_interval"))
        if interval >= self.watchdog / 2:
            log.warning("systemd watchdog is %.1fs but the heartbeat interval is %.1fs: pings "
                        "come once per heartbeat, so set heartbeat_interval below %.1fs "
                        "(or raise WatchdogSec)", self.watchdog, interval, self.watchdog / 2)

    def _send(self, message: str) -> None:
        if self.address:
            send_notify(self.address, message)

    @hookimpl
    def wfsched_scheduler_started(self, scheduler: SchedulerRow) -> None:
        self._send(f"READY=1\nSTATUS=started, claiming work "
                   f"(max {scheduler.max_concurrent} at once)")
        if self.watchdog:
            self._send("WATCHDOG=1")

    @hookimpl
    def wfsched_scheduler_tick(self, running: int, pending: int, max_concurrent: int) -> None:
        if not self.address:
            return
        message = f"STATUS=running {running}/{max_concurrent}, pending {pending}"
        if self.watchdog:
            message = "WATCHDOG=1\n" + message
        self._send(message)

    @hookimpl
    def wfsched_scheduler_stopping(self, reason: str) -> None:
        self._send(f"STOPPING=1\nSTATUS=stopping: {reason}")
