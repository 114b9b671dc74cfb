"""Prometheus metrics per served request: histograms of joules per request and per output token.

    from wattprint.exporters.prometheus_requests import RequestMetrics
    metrics = RequestMetrics()                       # its own CollectorRegistry
    # or RequestMetrics(registry=PrometheusExporter(port=9464).registry) to share that endpoint
    tracker = Tracker(exporters=[metrics])           # the tracker calls on_request for each settled request

Families (base units; labels ``model`` and ``endpoint`` only, each bounded to
:data:`MAX_LABEL_VALUES` distinct values, later ones become ``"other"``):

- ``wattprint_request_energy_joules`` histogram: IT energy attributed to each request;
- ``wattprint_request_energy_per_token_joules`` histogram: that energy / output tokens
  (requests with output tokens only);
- ``wattprint_requests_total`` counter; ``wattprint_request_tokens_total`` counter
  with ``direction`` = ``in`` / ``out``;
- ``wattprint_request_idle_energy_joules_total`` counter: the run's idle energy
  (from the footprint's ``inference`` section, at each live sample).

Requests are observed when they settle (see :mod:`wattprint.run.requests`), so
the histograms lag the traffic by the settling delay.

Failure modes: ``prometheus_client`` missing raises ``ImportError`` naming the
``prometheus`` extra at construction; observing never raises into the tracker.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from wattprint._io import encodable

__all__ = ["RequestMetrics", "ENERGY_BUCKETS_J", "PER_TOKEN_BUCKETS_J", "MAX_LABEL_VALUES"]

# joules per request: 0.1 J (a short CPU request) ... 100 kJ (a long multi-GPU generation)
ENERGY_BUCKETS_J: Tuple[float, ...] = (0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000)
# joules per output token: 1 mJ ... 100 J
PER_TOKEN_BUCKETS_J: Tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100)
MAX_LABEL_VALUES = 20


class RequestMetrics:
    """The per-request Prometheus families (see the module docstring).

    Args:
        registry: a ``prometheus_client.CollectorRegistry`` to register in (default: a new one, :attr:`registry`).
        energy_buckets_j, per_token_buckets_j: histogram bucket bounds, joules.
    """

    def __init__(self, registry: Any = None, energy_buckets_j: Sequence[float] = ENERGY_BUCKETS_J,
                 per_token_buckets_j: Sequence[float] = PER_TOKEN_BUCKETS_J) -> None:  # fmt: skip
        try:
            from prometheus_client import CollectorRegistry, Counter, Histogram
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("RequestMetrics needs prometheus_client: pip install 'wattprint[prometheus]'") from err
        self.registry = registry if registry is not None else CollectorRegistry()
        labels = ("model", "endpoint")
        self.energy = Histogram("wattprint_request_energy_joules", "IT energy attributed to each served request, joules.",
                                labels, registry=self.registry, buckets=tuple(energy_buckets_j))  # fmt: skip
        self.per_token = Histogram("wattprint_request_energy_per_token_joules",
                                   "IT energy of each served request per output token, joules.",
                                   labels, registry=self.registry, buckets=tuple(per_token_buckets_j))  # fmt: skip
        self.requests = Counter("wattprint_requests", "Served requests counted.", labels, registry=self.registry)
        self.tokens = Counter("wattprint_request_tokens", "Tokens of served requests, by direction (in: prompt, out: generated).",
                              (*labels, "direction"), registry=self.registry)  # fmt: skip
        self.idle = Counter("wattprint_request_idle_energy_joules", "Energy of the serving devices while no request was in flight, joules.",
                            registry=self.registry)  # fmt: skip
        self._idle_seen = 0.0
        self._values: Dict[str, set] = {"model": set(), "endpoint": set()}
        self._lock = threading.Lock()

    def _bounded(self, key: str, value: Optional[str]) -> str:
        v = encodable(str(value)) if value else "unknown"  # an exposition is UTF-8: no lone surrogate may poison it
        seen = self._values[key]
        if v in seen:
            return v
        if len(seen) >= MAX_LABEL_VALUES:
            return "other"
        seen.add(v)
        return v

    def on_request(self, row: Mapping[str, Any]) -> None:
        """Observe one settled request (a request-log row: ``energy_j``, ``tokens_in``, ``tokens_out``, ``model``, ``endpoint``)."""
        with self._lock:
            model = self._bounded("model", row.get("model"))
            endpoint = self._bounded("endpoint", row.get("endpoint"))
        energy_j = float(row.get("energy_j") or 0.0)
        tout = int(row.get("tokens_out") or 0)
        tin = int(row.get("tokens_in") or 0)
        self.energy.labels(model, endpoint).observe(energy_j)
        if tout > 0:
            self.per_token.labels(model, endpoint).observe(energy_j / tout)
        self.requests.labels(model, endpoint).inc()
        self.tokens.labels(model, endpoint, "in").inc(tin)
        self.tokens.labels(model, endpoint, "out").inc(tout)

    def _idle_from(self, footprint: Any) -> None:
        inf = footprint.get("inference") if hasattr(footprint, "get") else None
        inf = inf if isinstance(inf, Mapping) else {}
        idle = float(inf.get("idle_energy_j") or 0.0)
        with self._lock:
            if idle > self._idle_seen:
                self.idle.inc(idle - self._idle_seen)
                self._idle_seen = idle

    def on_sample(self, footprint: Any) -> None:
        self._idle_from(footprint)

    def export(self, footprint: Any) -> None:
        self._idle_from(footprint)

    def scrape(self) -> str:
        """The registry in the text exposition format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode("utf-8")
