"""Prometheus: live metrics on a pull endpoint, and pushes to a Pushgateway.

``PrometheusExporter`` keeps the latest footprint it was handed (through
``on_sample`` during the run, ``export`` at the end) and builds the metric
families from it at scrape time (the ``prometheus_client`` custom-collector
style), in its own ``CollectorRegistry``. Names are in base units: energy in
``..._joules_total`` counters, power in ``..._watts`` gauges, carbon in
``..._grams_total`` and water in ``..._cubic_meters_total`` counters (see
``docs/exporters.md`` for the full table). The run-level families are derived
from the ``prometheus`` rows of :data:`wattprint.footprint.model.FIGURES`
(name, type, help, scale to base units, scope label); :data:`METRICS` lists
every family exposed.

Failure modes: a port that cannot be bound raises
:class:`~wattprint.errors.ConfigError` at construction (the user asked for it);
after that nothing raises into the run. A Pushgateway that is down or slow is
logged once, retried with exponential backoff, and never delays a scrape or
another exporter; the final push is retried a few times and then reported
through the exporter runner.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from wattprint.errors import ConfigError
from wattprint.footprint.model import FIGURES, Figure, Footprint
from wattprint.units import as_float

__all__ = ["PrometheusExporter", "FootprintCollector", "METRICS", "figure_families", "metric_table"]

logger = logging.getLogger("wattprint")

_RUN_LABELS = ("run_id", "project", "host", "rank")
_COMPONENT_LABELS = ("run_id", "project", "component", "kind", "source", "measured", "host", "rank")

_COMPONENT_METRICS: List[Dict[str, str]] = [
    {"name": "wattprint_energy_joules_total", "type": "counter", "labels": "component kind source measured",
     "help": "IT energy used by each component since the run started, joules."},
    {"name": "wattprint_power_watts", "type": "gauge", "labels": "component kind source measured",
     "help": "Mean power of each component over the last sampling interval, watts."},
]
_EXPORTER_METRICS: List[Dict[str, str]] = [
    {"name": "wattprint_last_update_timestamp_seconds", "type": "gauge", "labels": "",
     "help": "Unix time at which the exporter last received a footprint."},
    {"name": "wattprint_run_info", "type": "gauge", "labels": "status region schema version",
     "help": "Always 1; labels describe the run."},
]


def figure_families(figures: Sequence[Figure] = FIGURES) -> Dict[str, List[Figure]]:
    """The Prometheus families of the footprint's figures, derived from the figure table
    (rows with ``prometheus``), by exposed name, in table order."""
    families: Dict[str, List[Figure]] = {}
    for fig in figures:
        if fig.prometheus is not None:
            families.setdefault(fig.prometheus.name, []).append(fig)
    return families


def metric_table(figures: Sequence[Figure] = FIGURES) -> List[Dict[str, str]]:
    """Every exposed family: name, type, labels beyond the run's, help (the docs and tests check them)."""
    rows = list(_COMPONENT_METRICS)
    for name, figs in figure_families(figures).items():
        prom = figs[0].prometheus
        assert prom is not None
        rows.append({"name": name, "type": prom.type, "labels": " ".join(k for k, _ in prom.labels), "help": prom.help})
    return rows + list(_EXPORTER_METRICS)


METRICS: List[Dict[str, str]] = metric_table()


class FootprintCollector:
    """A ``prometheus_client`` collector that exposes the latest footprint.

    Thread-safe: :meth:`update` swaps one reference under a lock; :meth:`collect`
    copies it and builds fresh metric families, so a scrape never sees half an update.
    """

    def __init__(self, rank: str = "0", figures: Sequence[Figure] = FIGURES) -> None:
        self.rank = rank
        self._families = figure_families(figures)
        self._helps = {m["name"]: m["help"] for m in metric_table(figures)}
        self._lock = threading.Lock()
        self._fp: Optional[Footprint] = None  # read-only: its accessors hand out copies
        self._power_w: Dict[str, Optional[float]] = {}
        self._updated_unix_s = 0.0

    def update(self, footprint: Footprint) -> None:
        power = {cid: as_float(w) for cid, w in footprint.latest_power_w().items()}
        with self._lock:
            self._fp, self._power_w, self._updated_unix_s = footprint, power, time.time()

    @property
    def has_data(self) -> bool:
        with self._lock:
            return self._fp is not None

    def collect(self) -> Iterator[Any]:
        with self._lock:
            fp, power, updated = self._fp, dict(self._power_w), self._updated_unix_s
        if fp is None:
            return
        run = [str(fp.get(key, "")) for key in ("run_id", "project", "host.hostname")] + [self.rank]
        yield from self._component_families(fp.get("components") or [], power, run)
        for name, figs in self._families.items():
            prom = figs[0].prometheus
            assert prom is not None
            extra = [k for k, _ in prom.labels]
            family = self._family(name, prom.type, extra)
            for fig in figs:
                assert fig.prometheus is not None
                value = as_float(fp.figure(fig))
                if value is not None:
                    family.add_metric(run + [v for _, v in fig.prometheus.labels], value * fig.prometheus.scale)
            if family.samples:
                yield family
        updated_family = self._family("wattprint_last_update_timestamp_seconds", "gauge")
        updated_family.add_metric(run, updated)
        yield updated_family
        from wattprint._version import __version__

        info = self._family("wattprint_run_info", "gauge", ["status", "region", "schema", "version"])
        info.add_metric(run + [str(fp.get(key, "")) for key in ("status", "region", "schema")] + [__version__], 1.0)
        yield info

    def _family(self, name: str, kind: str, extra: Sequence[str] = (), labels: Sequence[str] = _RUN_LABELS) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        if kind == "counter":  # the client appends _total itself
            return CounterMetricFamily(name[: -len("_total")], self._helps[name], labels=list(labels) + list(extra))
        return GaugeMetricFamily(name, self._helps[name], labels=list(labels) + list(extra))

    def _component_families(self, components: List[Any], power: Mapping[str, Optional[float]], run: List[str]) -> Iterator[Any]:
        energy = self._family("wattprint_energy_joules_total", "counter", labels=_COMPONENT_LABELS)
        watts = self._family("wattprint_power_watts", "gauge", labels=_COMPONENT_LABELS)
        for comp in components:
            what = [str(comp.get(k, "")) for k in ("id", "kind", "source")] + ["true" if comp.get("measured") else "false"]
            labels = run[:2] + what + run[2:]
            e = as_float(comp.get("energy_j"))
            if e is not None:
                energy.add_metric(labels, max(0.0, e))
            p = power.get(str(comp.get("id")))
            if p is None:
                p = as_float(comp.get("mean_power_w"))
            if p is not None:
                watts.add_metric(labels, p)
        for family in (energy, watts):
            if family.samples:
                yield family


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
        delete_on_close: delete the run's group from the Pushgateway at close
            (default ``False``: a batch job's final figures stay there).
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
        delete_on_close: bool = False,
        push_handler: Optional[Callable[..., Any]] = None,
    ) -> None:
        if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535):
            raise ConfigError("port", f"must be an integer 0-65535 (0: any free port), got {port!r}")
        if port is None and pushgateway is None:
            raise ConfigError("port", "give a port for the pull endpoint, a pushgateway address, or both")
        for name, value, minimum in (
            ("push_interval_s", push_interval_s, 0.0),
            ("push_timeout_s", push_timeout_s, 1e-3),
            ("retry_backoff_s", retry_backoff_s, 0.0),
            ("max_backoff_s", max_backoff_s, 0.0),
        ):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= minimum:
                raise ConfigError(name, f"must be a number >= {minimum}, got {value!r}")
        if not isinstance(final_push_attempts, int) or final_push_attempts < 1:
            raise ConfigError("final_push_attempts", f"must be an integer >= 1, got {final_push_attempts!r}")
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
        self.delete_on_close = delete_on_close
        self.push_handler = push_handler
        self.registry = CollectorRegistry()
        self.collector = FootprintCollector(rank=self.rank)
        self.registry.register(self.collector)
        self.pushes = 0
        self.push_errors = 0
        self.last_push_error: Optional[str] = None
        self._group: Optional[Dict[str, str]] = None
        self._next_push_s = 0.0
        self._backoff_s = self.retry_backoff_s
        self._push_lock = threading.Lock()
        self._server: Any = None
        self._server_thread: Optional[threading.Thread] = None
        self.port: Optional[int] = None
        if port is not None:
            self._serve(port)

    # -- pull endpoint -------------------------------------------------------
    def _serve(self, port: int) -> None:
        """Serve the registry on ``addr:port`` from a daemon thread.

        Like ``prometheus_client.start_http_server``, but the serving loop polls
        for shutdown every 50 ms instead of 500 ms, so ``close()`` (and so the
        tracker's ``stop()``) does not wait half a second.
        """
        import socket
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        from prometheus_client import make_wsgi_app
        from prometheus_client.exposition import ThreadingWSGIServer

        class _Server(ThreadingWSGIServer):
            address_family = socket.AF_INET6 if ":" in self.addr else socket.AF_INET

        class _QuietHandler(WSGIRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        try:
            server = make_server(self.addr, port, make_wsgi_app(self.registry), _Server, handler_class=_QuietHandler)
        except OSError as err:
            raise ConfigError("port", f"cannot serve metrics on {self.addr}:{port} ({err}); choose another port, or 0 for any") from err
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"wattprint-metrics-{server.server_address[1]}", daemon=True
        )
        thread.start()
        self._server, self._server_thread = server, thread
        self.port = int(server.server_address[1])

    @property
    def url(self) -> Optional[str]:
        if self.port is None:
            return None
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    # -- exporter protocol ------------------------------------------------------
    def on_sample(self, footprint: Footprint) -> None:
        """Expose the live footprint; push it when a periodic push is due. Never raises."""
        self.collector.update(footprint)
        if self.pushgateway is None:
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
        """Expose the final footprint and push it (with retries).

        Raises:
            RuntimeError: every final push failed (the runner logs it; nothing else is affected).
        """
        self.collector.update(footprint)
        if self.pushgateway is None:
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
        """Shut the pull endpoint down (and delete the pushed group if asked). Safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            try:
                server.shutdown()
                server.server_close()
            except Exception:  # pragma: no cover - best effort
                logger.debug("wattprint: error closing the metrics endpoint", exc_info=True)
        if self._server_thread is not None:
            self._server_thread.join(5.0)
            self._server_thread = None
        if self.delete_on_close and self.pushgateway is not None and self._group is not None:
            try:
                from prometheus_client import delete_from_gateway

                kwargs: Dict[str, Any] = {"handler": self.push_handler} if self.push_handler is not None else {}
                delete_from_gateway(self.pushgateway, job=self.job, grouping_key=self._group, timeout=self.push_timeout_s, **kwargs)
            except Exception as err:
                logger.warning("wattprint: could not delete the run from the Pushgateway at %s (%s)", self.pushgateway, err)

    # -- push ----------------------------------------------------------------------
    def _group_for(self, footprint: Footprint) -> Dict[str, str]:
        if self._group is None:
            group = {"run_id": str(footprint.run_id), "rank": self.rank}
            if self.grouping_key is not None:
                group = {str(k): str(v) for k, v in self.grouping_key.items()}
            self._group = group
        return self._group

    def _push(self, footprint: Footprint) -> bool:
        """One push; True when it went through. Logs the first failure, counts the rest."""
        from prometheus_client import push_to_gateway

        assert self.pushgateway is not None
        with self._push_lock:
            try:
                kwargs: Dict[str, Any] = {"handler": self.push_handler} if self.push_handler is not None else {}
                push_to_gateway(
                    self.pushgateway,
                    job=self.job,
                    registry=self.registry,
                    grouping_key=self._group_for(footprint),
                    timeout=self.push_timeout_s,
                    **kwargs,
                )
            except Exception as err:
                self.push_errors += 1
                self.last_push_error = f"{type(err).__name__}: {err}"
                if self.push_errors == 1:
                    logger.warning(
                        "wattprint: push to the Pushgateway at %s failed (%s); retrying with backoff, the run goes on",
                        self.pushgateway,
                        self.last_push_error,
                    )
                return False
            self.pushes += 1
            self._backoff_s = self.retry_backoff_s
            return True

    def __repr__(self) -> str:
        return f"PrometheusExporter(url={self.url!r}, pushgateway={self.pushgateway!r})"
