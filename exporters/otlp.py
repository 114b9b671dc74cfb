"""OpenTelemetry metrics over OTLP/HTTP: the hardware semantic conventions plus wattprint's carbon and water.

``OtlpExporter(endpoint="http://127.0.0.1:4318/v1/metrics")`` sends, at each live sample
(``live=True``, the default) and at the end of the run:

- ``hw.energy`` (counter, ``J``) and ``hw.power`` (gauge, ``W``) per component, with
  ``hw.id`` (the component id, e.g. ``gpu:0``), ``hw.type`` (``gpu``, ``cpu``, ``memory``...),
  ``hw.name`` and ``wattprint.measured``;
- ``hw.host.energy`` (counter, ``J``) and ``hw.host.power`` (gauge, ``W``): the whole host's IT
  totals (the sum of the components), separate names so that nothing is summed twice;
- ``wattprint.energy.facility`` (counter, ``J``: IT energy x PUE), ``wattprint.carbon``
  (counter, ``g`` CO2e, ``wattprint.carbon.scope`` = ``operational``/``embodied``) and
  ``wattprint.water`` (counter, ``L``, ``wattprint.water.scope`` = ``onsite``/``offsite``,
  ``wattprint.water.source``);
- resource attributes ``service.name`` (``wattprint``), ``host.name``, ``wattprint.project``,
  ``wattprint.run_id`` and ``wattprint.job`` (the job id given, else the footprint's job id,
  else the run id).

Counters are cumulative (the footprint's totals), as OTLP's default temporality expects.
Units are SI (J, W) with carbon in grams and water in litres.

Failure modes: constructing it without the SDK raises ``ImportError`` naming the extra
(``pip install "wattprint[otel]"``). A failed or timed-out final ``export`` raises
``RuntimeError`` (the exporter runner records it in the footprint's notes; the run and the
other exporters go on); a failed live sample is logged once and skipped. Each send is
bounded by ``timeout_s``. Nothing is sent anywhere but ``endpoint``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Iterable, List, Mapping, Optional

from wattprint._io import encodable
from wattprint.footprint.model import Footprint
from wattprint.units import as_float

__all__ = ["OtlpExporter", "HW_TYPES", "DEFAULT_ENDPOINT"]

logger = logging.getLogger("wattprint")

DEFAULT_ENDPOINT = "http://127.0.0.1:4318/v1/metrics"
HW_TYPES = {"gpu": "gpu", "cpu": "cpu", "dram": "memory", "ram": "memory"}  # OTel hw.type values
_EXTRA = 'the OTLP exporter needs opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http: pip install "wattprint[otel]"'


def _import_otel() -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.metrics import CallbackOptions, Observation
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
        from opentelemetry.sdk.resources import Resource
    except ImportError as err:
        raise ImportError(_EXTRA) from err
    return OTLPMetricExporter, CallbackOptions, Observation, MeterProvider, InMemoryMetricReader, MetricExportResult, Resource


class OtlpExporter:
    """Sends the run's hardware energy and power, carbon and water as OTLP/HTTP metrics.

    Args:
        endpoint: the collector's OTLP/HTTP metrics URL (default ``http://127.0.0.1:4318/v1/metrics``).
        headers: extra HTTP headers (e.g. an API key).
        timeout_s: bound on each send, seconds (> 0; default 5).
        live: send at each live sample too (default ``True``), else only at the end.
        job: the job name or id for the ``wattprint.job`` resource attribute.
        resource_attributes: more resource attributes.

    Raises:
        ImportError: the ``otel`` extra is not installed.
        ConfigError: ``timeout_s`` is not a positive number.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        headers: Optional[Mapping[str, str]] = None,
        timeout_s: float = 5.0,
        live: bool = True,
        job: Optional[str] = None,
        resource_attributes: Optional[Mapping[str, Any]] = None,
    ) -> None:
        from wattprint.errors import ConfigError

        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise ConfigError("timeout_s", f"must be a number > 0, got {timeout_s!r}")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise ConfigError("endpoint", f"must be an http(s) URL such as {DEFAULT_ENDPOINT}, got {endpoint!r}")
        self._otel = _import_otel()
        self.endpoint = endpoint
        self.timeout_s = float(timeout_s)
        self.live = live
        self._headers = dict(headers or {})
        self._job = job
        self._extra_resource = dict(resource_attributes or {})
        self._lock = threading.Lock()
        self._latest: Optional[Footprint] = None
        self._provider: Any = None
        self._reader: Any = None
        self._exporter: Any = None
        self._sample_failed = False

    # -- the SDK, built at the first footprint (the resource needs the run's id and host) ----
    def _resource(self, fp: Footprint) -> Dict[str, Any]:
        job = self._job or fp.get("job.job_id") or fp.get("job.id") or fp.run_id
        attrs: Dict[str, Any] = {  # strings as they are, but UTF-8-encodable: the SDK drops one with a lone surrogate
            "service.name": "wattprint",
            "host.name": encodable(str(fp.get("host.hostname") or "unknown")),
            "wattprint.project": encodable(str(fp.get("project") or "default")),
            "wattprint.run_id": encodable(fp.run_id),
            "wattprint.job": encodable(str(job)),
        }
        attrs.update({str(k): v for k, v in self._extra_resource.items()})
        return attrs

    def _setup(self, fp: Footprint) -> None:
        if self._provider is not None:
            return
        exporter_cls, _, _, provider_cls, reader_cls, _, resource_cls = self._otel
        self._reader = reader_cls()
        self._provider = provider_cls(resource=resource_cls.create(self._resource(fp)), metric_readers=[self._reader])
        self._exporter = exporter_cls(endpoint=self.endpoint, headers=self._headers, timeout=self.timeout_s)
        meter = self._provider.get_meter("wattprint")
        obs = self._observations
        meter.create_observable_counter("hw.energy", [lambda o: obs("hw.energy")], unit="J", description="Energy consumed by the component")
        meter.create_observable_gauge("hw.power", [lambda o: obs("hw.power")], unit="W", description="Instantaneous power consumed by the component")
        meter.create_observable_counter("hw.host.energy", [lambda o: obs("hw.host.energy")], unit="J",
                                        description="Total IT energy of the host (sum of the components)")
        meter.create_observable_gauge("hw.host.power", [lambda o: obs("hw.host.power")], unit="W",
                                      description="Total IT power of the host (sum of the components)")
        meter.create_observable_counter("wattprint.energy.facility", [lambda o: obs("facility")], unit="J",
                                        description="Facility energy of the run (IT energy x PUE)")
        meter.create_observable_counter("wattprint.carbon", [lambda o: obs("carbon")], unit="g",
                                        description="Carbon of the run, grams CO2e (location-based operational; embodied)")
        meter.create_observable_counter("wattprint.water", [lambda o: obs("water")], unit="L",
                                        description="Water consumed for the run, litres (on-site; off-site)")

    # -- what each instrument observes from the latest footprint ------------------------------
    def _observations(self, name: str) -> Iterable[Any]:
        observation = self._otel[2]
        fp = self._latest
        if fp is None:
            return []
        out: List[Any] = []
        comps = [c for c in fp.get("components") or [] if isinstance(c, dict)]
        power = fp.latest_power_w()
        host = {"hw.id": encodable(str(fp.get("host.hostname") or "host"))}
        if name in ("hw.energy", "hw.power"):
            for c in comps:
                attrs = {"hw.id": encodable(str(c.get("id"))), "hw.type": HW_TYPES.get(str(c.get("kind")), str(c.get("kind") or "other")),
                         "hw.name": encodable(str(c.get("name") or "")), "wattprint.measured": bool(c.get("measured"))}
                if name == "hw.energy":
                    out.append(observation(as_float(c.get("energy_j")) or 0.0, attrs))
                else:
                    w = power.get(str(c.get("id")))
                    out.append(observation(as_float(w) if w is not None else as_float(c.get("mean_power_w")) or 0.0, attrs))
        elif name == "hw.host.energy":
            out.append(observation(sum(as_float(c.get("energy_j")) or 0.0 for c in comps), host))
        elif name == "hw.host.power":
            total = 0.0
            for c in comps:
                w = power.get(str(c.get("id")))
                total += (as_float(w) if w is not None else as_float(c.get("mean_power_w"))) or 0.0
            out.append(observation(total, host))
        elif name == "facility":
            kwh = as_float(fp.get("energy.facility_kwh"))
            if kwh is not None:
                out.append(observation(kwh * 3.6e6, {}))
        elif name == "carbon":
            for scope, key in (("operational", "carbon.operational_kg"), ("embodied", "carbon.embodied_kg")):
                kg = as_float(fp.get(key))
                if kg is not None:
                    out.append(observation(kg * 1000.0, {"wattprint.carbon.scope": scope}))
        elif name == "water":
            source = str(fp.get("water.source") or "unknown")
            for scope, key in (("onsite", "water.onsite_l"), ("offsite", "water.offsite_l")):
                litres = as_float(fp.get(key))
                if litres is not None:
                    out.append(observation(litres, {"wattprint.water.scope": scope, "wattprint.water.source": source}))
        return out

    def _send(self, fp: Footprint) -> None:
        """Collect the instruments over ``fp`` and send them; raises ``RuntimeError`` when the send fails."""
        with self._lock:
            self._latest = fp
            self._setup(fp)
            data = self._reader.get_metrics_data()
            result = self._exporter.export(data, timeout_millis=self.timeout_s * 1000.0)
        if result != self._otel[5].SUCCESS:
            raise RuntimeError(f"OTLP export to {self.endpoint} failed ({getattr(result, 'name', result)})")

    # -- the exporter protocol ------------------------------------------------------------------
    def on_sample(self, footprint: Footprint) -> None:
        if not self.live:
            return
        try:
            self._send(footprint)
        except Exception as err:  # a live sample may be lost; the final export reports
            if not self._sample_failed:
                logger.warning("wattprint: OTLP live sample to %s failed (%s); later samples are tried quietly", self.endpoint, err)
                self._sample_failed = True

    def export(self, footprint: Footprint) -> None:
        self._send(footprint)

    def close(self) -> None:
        with self._lock:
            if self._exporter is not None:
                self._exporter.shutdown()
            if self._provider is not None:
                self._provider.shutdown(timeout_millis=self.timeout_s * 1000.0)
