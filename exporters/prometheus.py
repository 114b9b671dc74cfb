"""Prometheus: live metrics on a pull endpoint, and pushes to a Pushgateway.

``PrometheusExporter`` exposes the latest footprint it was handed (through
``on_sample`` during the run, ``export`` at the end) in its own
``CollectorRegistry``: the families and their snapshot are in
:mod:`wattprint.exporters._prom_collector` (names in base units: energy in
``..._joules_total`` counters, power in ``..._watts`` gauges, carbon in
``..._grams_total``, water in ``..._cubic_meters_total``; the full table in
``docs/exporters.md``), the endpoint and its linger in
:mod:`wattprint.exporters._prom_serve`, the pushes and group retention in
:mod:`wattprint.exporters._prom_push`.

Final figures always reach Prometheus: on the pull endpoint the final values
(``wattprint_run_info{status="completed"}``, no live gauges) are served for a
bounded linger after the run (until one scrape saw them, at most ``linger_s``,
default two ``scrape_interval_s``); on the Pushgateway the final push replaces
the live group with the counters and the final status. A run scraped and pushed
at once has one series identity (``run_id``, ``rank``): only the transport
labels ``job``/``instance`` differ, which the dashboard reduces away.

Failure modes: a port that cannot be bound raises
:class:`~wattprint.errors.ConfigError` at construction (the user asked for it),
as does a bad setting (naming it, ``WATTPRINT_PROMETHEUS_LINGER_S`` included);
after that nothing raises into the run. A Pushgateway that is down or slow is
logged once, retried with exponential backoff, and never delays a scrape or
another exporter; the final push is retried a few times and then reported
through the exporter runner.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Dict, Mapping, Optional

from wattprint import settings as config
from wattprint.errors import ConfigError
from wattprint.exporters._prom_collector import METRICS, FootprintCollector, figure_families, metric_table
from wattprint.exporters._prom_push import Pusher
from wattprint.exporters._prom_serve import MetricsServer, wait_lingering
from wattprint.footprint.model import Footprint

__all__ = ["PrometheusExporter", "FootprintCollector", "METRICS", "figure_families", "metric_table", "wait_lingering"]

logger = logging.getLogger("wattprint")

class PrometheusExporter:
    """Live metrics for Prometheus: a pull endpoint and/or Pushgateway pushes.

    Args:
        port: serve ``/metrics`` on this TCP port (``0``: any free port, see
            :attr:`port`); ``None``: no pull endpoint.
        addr: address to bind; ``"127.0.0.1"`` unless told otherwise (``"0.0.0.0"``
            exposes the metrics to the network).
        pushgateway: Pushgateway address (``"127.0.0.1:9091"`` or a URL); ``None``: no push.
        job: the Pushgateway ``job`` label.
        grouping_key: extra Pushgateway grouping labels; default ``run_id`` and
            ``rank`` of the run, so every run and rank keeps its own group.
        push_interval_s: least time between periodic pushes during the run,
            seconds (``0``: push on every sample; ``math.inf``: only the final push).
        push_timeout_s: timeout of one push, seconds (default 2).
        final_push_attempts: tries of the final push (with ``retry_backoff_s``
            doubling between them); the defaults (3 tries, 2 s timeout, 0.5 s
            backoff) stay under the tracker's 10 s export deadline even when
            the gateway accepts connections and never answers.
        retry_backoff_s: first backoff after a failed push, seconds (default
            0.5); doubles up to ``max_backoff_s``.
        max_backoff_s: the longest backoff, seconds.
        rank: the ``rank`` label; default ``$RANK`` or ``"0"``.
        scrape_interval_s: the scrape interval of the Prometheus that scrapes
            the endpoint, seconds (default 15, Prometheus's own default); sets
            the default linger and retention.
        linger_s: after the run, keep the endpoint up serving the final values
            until a scrape saw them, at most this long, seconds; default
            ``WATTPRINT_PROMETHEUS_LINGER_S``, else two ``scrape_interval_s``;
            ``0``: shut down at once. No linger when the endpoint was never
            scraped in a run longer than the linger (nobody is scraping it).
        retention_s: delete the run's Pushgateway group this long after the
            final push, seconds (by this process if alive, else by the next run
            pushing to the gateway; see :mod:`wattprint.exporters._prom_push`);
            default ``None``: keep it (a batch job's final figures stay there).
        delete_on_close: delete the run's group after the final push once it
            has had time to be scraped (``retention_s``, default two
            ``scrape_interval_s``).
        push_handler: ``prometheus_client`` push handler (authentication, TLS).

    Raises:
        ConfigError: a bad setting, or a port that cannot be bound.

    Attributes:
        port: the bound port of the pull endpoint (``None`` without one).
        url: ``http://addr:port/metrics`` (``None`` without a pull endpoint).
        registry: the exporter's own ``CollectorRegistry``.
        pushes, push_errors: counts of successful and failed pushes.
        last_push_error: the last push error message, or ``None``.

    Example::

        exp = PrometheusExporter(port=9464, pushgateway="127.0.0.1:9091")
        with wattprint.Tracker(exporters=[exp]):
            train()
    """

    def __init__(
        self,
        port: Optional[int] = None,
        addr: str = "127.0.0.1",
        pushgateway: Optional[str] = None,
        *,
        job: str = "wattprint",
        grouping_key: Optional[Mapping[str, str]] = None,
        push_interval_s: float = 15.0,
        push_timeout_s: float = 2.0,
        final_push_attempts: int = 3,
        retry_backoff_s: float = 0.5,
        max_backoff_s: float = 300.0,
        rank: Optional[Any] = None,
        scrape_interval_s: float = 15.0,
        linger_s: Optional[float] = None,
        retention_s: Optional[float] = None,
        delete_on_close: bool = False,
        push_handler: Optional[Callable[..., Any]] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        env = os.environ if env is None else env
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535):
            raise ConfigError("port", f"must be an integer 0-65535 (0: any free port), got {port!r}")
        if port is None and pushgateway is None:
            raise ConfigError("port", "give a port for the pull endpoint, a pushgateway address, or both")
        if not isinstance(addr, str) or not addr.strip():  # "" would bind every interface, silently
            raise ConfigError("addr", f"must be an address to bind (\"127.0.0.1\"; \"0.0.0.0\" to listen on every interface), got {addr!r}")
        for name, value, minimum in (
            ("push_interval_s", push_interval_s, 0.0),
            ("push_timeout_s", push_timeout_s, 1e-3),
            ("retry_backoff_s", retry_backoff_s, 0.0),
            ("max_backoff_s", max_backoff_s, 0.0),
            ("scrape_interval_s", scrape_interval_s, 1e-3),
        ):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= minimum:
                raise ConfigError(name, f"must be a number >= {minimum}, got {value!r}")
        if not isinstance(final_push_attempts, int) or final_push_attempts < 1:
            raise ConfigError("final_push_attempts", f"must be an integer >= 1, got {final_push_attempts!r}")
        self.scrape_interval_s = float(scrape_interval_s)
        self.linger_s: float = config.setting_float("prometheus_linger_s", linger_s, env, 2.0 * self.scrape_interval_s, minimum=0.0)
        if retention_s is not None:
            retention_s = config.setting_float("retention_s", retention_s, {}, None, minimum=0.0)
        if delete_on_close and retention_s is None:
            retention_s = 2.0 * self.scrape_interval_s
        from prometheus_client import CollectorRegistry

        self.addr = addr
        self.pushgateway = pushgateway
        self.job = job
        self.grouping_key = dict(grouping_key) if grouping_key is not None else None
        self.push_interval_s = float(push_interval_s)
        self.push_timeout_s = float(push_timeout_s)
        self.final_push_attempts = final_push_attempts
        self.retry_backoff_s = float(retry_backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.rank = str(rank) if rank is not None else (os.environ.get("RANK") or "0")
        self.retention_s = retention_s
        self.delete_on_close = delete_on_close
        self.push_handler = push_handler
        self.registry = CollectorRegistry()
        self.collector = FootprintCollector(rank=self.rank)
        self.registry.register(self.collector)
        self._pusher: Optional[Pusher] = None
        if pushgateway is not None:
            self._pusher = Pusher(pushgateway, job, timeout_s=self.push_timeout_s, handler=push_handler, retention_s=retention_s)
        self._next_push_s = 0.0
        self._backoff_s = self.retry_backoff_s
        self._exported = False
        self._closed = False
        self._server: Optional[MetricsServer] = None
        self._started_s = time.monotonic()
        self.port: Optional[int] = None
        if port is not None:
            self._server = MetricsServer(self.registry, addr, port, is_final=lambda: self.collector.is_final)
            self.port = self._server.port

    @property
    def url(self) -> Optional[str]:
        if self.port is None:
            return None
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    @property
    def scrapes(self) -> int:
        """Scrapes served by the pull endpoint so far (0 without one)."""
        return self._server.scrapes if self._server is not None else 0

    @property
    def pushes(self) -> int:
        return self._pusher.pushes if self._pusher is not None else 0

    @property
    def push_errors(self) -> int:
        return self._pusher.errors if self._pusher is not None else 0

    @property
    def last_push_error(self) -> Optional[str]:
        return self._pusher.last_error if self._pusher is not None else None

    # -- exporter protocol ------------------------------------------------------
    def on_sample(self, footprint: Footprint) -> None:
        """Expose the live footprint; push it when a periodic push is due. Never raises."""
        if self._exported:  # a late sample never replaces the final values
            return
        self.collector.update(footprint)
        if self._pusher is None:
            return
        now = time.monotonic()
        if now < self._next_push_s:
            return
        if self._push(footprint):
            self._next_push_s = now + self.push_interval_s
        else:
            self._next_push_s = now + self._backoff_s
            self._backoff_s = min(self.max_backoff_s, max(self._backoff_s * 2, 1e-3))

    def export(self, footprint: Footprint) -> None:
        """Expose the final footprint (final status, no live gauges) and push it (with retries).

        Raises:
            RuntimeError: every final push failed (the runner logs it; nothing else is affected).
        """
        self.collector.update(footprint, final=True)
        self._exported = True
        if self._pusher is None:
            return
        delay = self.retry_backoff_s
        for attempt in range(self.final_push_attempts):
            if self._push(footprint):
                return
            if attempt + 1 < self.final_push_attempts:
                time.sleep(delay)
                delay = min(self.max_backoff_s, delay * 2)
        raise RuntimeError(
            f"final push to the Pushgateway at {self.pushgateway} failed {self.final_push_attempts} times: {self.last_push_error}"
        )

    def close(self) -> None:
        """End the pull endpoint (after its linger when the final values were exposed) and
        schedule the group's deletion when a retention is set. Returns at once; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            self._server.linger_then_shutdown(self._linger_now())
        if self._pusher is not None and self.retention_s is not None and self._exported and self._pusher.pushes:
            self._pusher.delete_later(self.retention_s)

    def _linger_now(self) -> float:
        """The linger that applies at close: none without final values, or when the endpoint has run
        longer than the linger and was never scraped (no Prometheus is watching it)."""
        assert self._server is not None
        if not self._exported:
            return 0.0
        if self._server.scrapes == 0 and time.monotonic() - self._started_s > self.linger_s:
            return 0.0
        return self.linger_s

    def wait_closed(self, timeout_s: Optional[float] = None) -> bool:
        """Wait for the endpoint's linger to end (True when it is down, or there is none)."""
        return True if self._server is None else self._server.closed.wait(timeout_s)

    # -- push ----------------------------------------------------------------------
    def _group_for(self, footprint: Footprint) -> Dict[str, str]:
        assert self._pusher is not None
        if self._pusher.group is None:
            group = {"run_id": str(footprint.run_id), "rank": self.rank}
            if self.grouping_key is not None:
                group = {str(k): str(v) for k, v in self.grouping_key.items()}
            self._pusher.group = group
        return self._pusher.group

    def _push(self, footprint: Footprint) -> bool:
        """One push of the exposition; True when it went through."""
        assert self._pusher is not None
        self._group_for(footprint)
        ok = self._pusher.push(self.registry)
        if ok:
            self._backoff_s = self.retry_backoff_s
        return ok

    def __repr__(self) -> str:
        return f"PrometheusExporter(url={self.url!r}, pushgateway={self.pushgateway!r})"
