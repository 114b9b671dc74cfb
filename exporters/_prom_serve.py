"""The pull endpoint: ``/metrics`` on a daemon thread, and its linger after the run.

When the run ends, the endpoint keeps serving the final values (status
``completed``, no live gauges) for a bounded linger, so that Prometheus scrapes
them at least once: it shuts down after the first scrape that saw the final
values, or after ``linger_s`` seconds (default two scrape intervals), whichever
comes first. ``linger_s=0`` shuts it down at once. The linger runs on a daemon
thread, so ``close()`` (and so the tracker's ``stop()``) does not wait; at
interpreter exit (and in ``wattprint run``) :func:`wait_lingering` waits for
the lingers still running.

Units: seconds. Failure modes: a port that cannot be bound raises
:class:`~wattprint.errors.ConfigError`; errors while shutting down are logged
at debug level.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Any, Callable, List, Optional

from wattprint.errors import ConfigError

__all__ = ["MetricsServer", "wait_lingering"]

logger = logging.getLogger("wattprint")

_LINGERING: List["MetricsServer"] = []
_LINGERING_LOCK = threading.Lock()


def wait_lingering(timeout_s: Optional[float] = None) -> int:
    """Wait until every lingering endpoint is down (at most ``timeout_s`` seconds); how many were waited for."""
    with _LINGERING_LOCK:
        servers = list(_LINGERING)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    for server in servers:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        server.closed.wait(left)
    return len(servers)


atexit.register(wait_lingering)


class MetricsServer:
    """A WSGI server for a ``prometheus_client`` registry on ``addr:port``, counting scrapes.

    Like ``prometheus_client.start_http_server``, but the serving loop polls
    for shutdown every 50 ms instead of 500 ms.
    """

    def __init__(self, registry: Any, addr: str, port: int, *, is_final: Callable[[], bool]) -> None:
        import socket
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        from prometheus_client import make_wsgi_app
        from prometheus_client.exposition import ThreadingWSGIServer

        self.addr = addr
        self.scrapes = 0
        self.final_scrapes = 0
        self.closed = threading.Event()
        self._final_seen = threading.Event()
        self._is_final = is_final
        app = make_wsgi_app(registry)

        def counting_app(environ: Any, start_response: Any) -> Any:
            final = self._is_final()  # before building: this scrape serves at least these values
            body = app(environ, start_response)
            if environ.get("PATH_INFO", "/") in ("/", "/metrics"):
                self.scrapes += 1
                if final:
                    self.final_scrapes += 1
                    self._final_seen.set()
            return body

        class _Server(ThreadingWSGIServer):
            address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

        class _QuietHandler(WSGIRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        try:
            server = make_server(addr, port, counting_app, _Server, handler_class=_QuietHandler)
        except OSError as err:
            raise ConfigError("port", f"cannot serve metrics on {addr}:{port} ({err}); choose another port, or 0 for any") from err
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"wattprint-metrics-{self.port}", daemon=True
        )
        self._thread.start()
        self._closing = False

    def shutdown(self) -> None:
        """Stop serving now. Safe to call twice."""
        if self.closed.is_set():
            return
        try:
            self._server.shutdown()
            self._server.server_close()
        except Exception:  # pragma: no cover - best effort
            logger.debug("wattprint: error closing the metrics endpoint", exc_info=True)
        self._thread.join(5.0)
        self.closed.set()
        with _LINGERING_LOCK:
            if self in _LINGERING:
                _LINGERING.remove(self)

    def linger_then_shutdown(self, linger_s: float) -> None:
        """Keep serving until a scrape has seen the final values or ``linger_s`` passed, then shut down (daemon thread)."""
        if self._closing:
            return
        self._closing = True
        if linger_s <= 0:
            self.shutdown()
            return
        with _LINGERING_LOCK:
            _LINGERING.append(self)

        def run() -> None:
            if self._final_seen.wait(linger_s):
                time.sleep(min(0.2, linger_s))  # let the response that saw the final values finish
            self.shutdown()

        threading.Thread(target=run, name=f"wattprint-metrics-linger-{self.port}", daemon=True).start()
