"""The database side of ``bench.soak --database postgresql``: a shared PostgreSQL
database behind a cuttable proxy, and the chaos done to it.

Several schedulers (``--schedulers N``) and their workers reach a fresh PostgreSQL
database through a TCP proxy on 127.0.0.1 (``tests/faults/proxy.py``); the soak's own
reads go straight to the server. The chaos, every 10 to 25 s:

- **an outage**: the proxy drops every connection and refuses new ones for 2 to 5 s —
  what the clients see of a server restart, without restarting a server other work on
  this machine shares;
- **backend terminations**: ``pg_terminate_backend`` of every connection to the soak's
  database but the soak's own (what an operator or a failover does to live sessions).
"""

from __future__ import annotations

import time
from random import Random

from bench.harness import create_postgresql_database


def _proxy_class() -> type:
    """The test suite's cuttable proxy (``tests/`` is on the path once bench.harness is
    imported)."""
    from faults.proxy import CuttableProxy

    return CuttableProxy


class DatabaseChaos:
    """A fresh PostgreSQL database, its proxy, and the outages and terminations."""

    def __init__(self, rng: Random) -> None:
        from sqlalchemy.engine import make_url

        self.rng = rng
        self.direct_url, self._drop = create_postgresql_database("wfsched_soak")
        direct = make_url(self.direct_url)
        self.name = direct.database
        self.proxy = _proxy_class()(direct.host or "127.0.0.1", direct.port or 5432)
        self.proxy.__enter__()
        #: what the schedulers and workers use: through the proxy
        self.url = direct.set(port=self.proxy.port).render_as_string(hide_password=False)
        self.outages = 0
        self.outage_seconds = 0.0
        self.backends_terminated = 0
        self._restore_at: float | None = None
        self._next_at = time.monotonic() + rng.uniform(10, 25)

    def step(self) -> None:
        """Called from the soak's loop: start or end an outage, or terminate backends."""
        now = time.monotonic()
        if self._restore_at is not None:
            if now >= self._restore_at:
                self.proxy.restore()
                self._restore_at = None
            return
        if now < self._next_at:
            return
        self._next_at = now + self.rng.uniform(10, 25)
        if self.rng.random() < 0.5:
            length = self.rng.uniform(2, 5)
            self.proxy.cut()
            self.outages += 1
            self.outage_seconds += length
            self._restore_at = now + length
        else:
            self.backends_terminated += self.terminate_backends()

    def terminate_backends(self) -> int:
        import psycopg

        with psycopg.connect(self.direct_url.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (self.name,)).fetchall()
        return sum(1 for (terminated,) in rows if terminated)

    def settle(self) -> None:
        """End any outage (before the drain)."""
        self.proxy.restore()
        self._restore_at = None

    def close(self) -> None:
        self.proxy.close()
        self._drop()
