"""The HTTP server of ``--metrics-port``: ``/metrics``, ``/healthz`` and ``/readyz``.

prometheus_client's own ``start_http_server`` serves only its registry, so this is the
same arrangement (a threading WSGI server in a daemon thread, quiet about requests) with
two routes in front of its WSGI app:

- ``/healthz``: the verdict of :func:`wfsched_core.ops.health.check_health` as JSON,
  200 when healthy, 503 with the problems otherwise — for alerting;
- ``/readyz``: the same JSON, 200 when the database can be read and this scheduler is
  running its loop (registered, and its loop ticked within the heartbeat timeout), even
  with other problems; 503 otherwise — for a liveness/readiness probe, which must not
  restart a healthy scheduler because the queue is long or another host has failed.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from wfsched_core.ops.health import check_health

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.store.contract import Store

HEALTH_PATHS = ("/healthz", "/readyz")


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """One thread per request: a slow scrape never holds up a health probe."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: a probe every few seconds would drown the scheduler's."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


def health_app(metrics_app: Callable[..., Iterable[bytes]], store: Store,
               settings: Settings, running: Callable[[], bool] = lambda: True,
               ) -> Callable[..., Iterable[bytes]]:
    """A WSGI app: the health routes, everything else to ``metrics_app``; ``running``
    says whether this process's scheduler loop runs (a condition of ``/readyz``)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in HEALTH_PATHS:
            return metrics_app(environ, start_response)
        health = check_health(store, settings)
        ok = (health.database_reachable and running()) if path == "/readyz" \
            else health.healthy
        body = json.dumps(health.to_json()).encode()
        start_response("200 OK" if ok else "503 Service Unavailable",
                       [("Content-Type", "application/json"),
                        ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
        return [body]

    return app


def serve(app: Callable[..., Iterable[bytes]], address: str, port: int) -> WSGIServer:
    """Serve ``app`` on ``address:port`` from a daemon thread (IPv6 addresses too)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server_class = type("MetricsServer", (_ThreadingServer,), {"address_family": family})
    server: WSGIServer = make_server(address, port, app, server_class,
                                     handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="wfsched-metrics-http",
                     daemon=True).start()
    return server
