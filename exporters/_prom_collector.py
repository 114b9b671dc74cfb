"""The Prometheus families of a footprint: a small snapshot taken per sample, families built per scrape.

Units: base units, as Prometheus names them (joules, watts, grams, cubic
meters, seconds, ratios). The run-level families are derived from the
``prometheus`` rows of :data:`wattprint.footprint.model.FIGURES`;
:data:`METRICS` lists every exposed family.

Per-sample cost: :meth:`FootprintCollector.update` reads the components and the
few figures the families need into a :class:`Snapshot` (a few dozen floats and
strings) and keeps no reference to the footprint, so its cost does not grow
with the run's windows or timeline; a scrape builds the families from the
snapshot only.

Series identity: a run's series are told apart by ``run_id`` and ``rank`` (and
``component`` / ``scope`` within a family). The same run scraped on its pull
endpoint and pushed to a Pushgateway carries the same wattprint labels; only the
transport labels (``job``, ``instance``) differ, and the dashboard reduces them
away with ``max by (run_id, rank, ...)`` (``docs/exporters.md``).

Live and final: during the run ``wattprint_run_info{status="running"}`` and
the live gauges (power, forecast). The final footprint (``final=True``) sets
the footprint's own status (``completed``, ``failed``, ``partial``) and drops
the live gauges, so a finished run has no "power now"; its progress becomes
steps / total_steps of the last forecast.

Failure modes: none raised; a figure that is missing or not a number is left
out of its family.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from wattprint._io import encodable
from wattprint.footprint.model import FIGURES, Figure, Footprint
from wattprint.units import as_float

__all__ = ["FootprintCollector", "Snapshot", "METRICS", "LIVE_FAMILIES", "figure_families", "metric_table"]

RUN_LABELS = ("run_id", "project", "host", "rank")
COMPONENT_LABELS = ("run_id", "project", "component", "kind", "source", "measured", "host", "rank")
INFO_LABELS = ("status", "region", "schema", "version", "job_id", "node", "slurm_job_id", "slurm_step_id", "k8s_pod", "k8s_container")
_SCHEDULER_KEYS = INFO_LABELS[6:]  # the footprint's ``job`` keys of the same names; on the info series only (one per run)

_COMPONENT_METRICS: List[Dict[str, str]] = [
    {"name": "wattprint_energy_joules_total", "type": "counter", "labels": "component kind source measured",
     "help": "IT energy used by each component since the run started, joules."},
    {"name": "wattprint_power_watts", "type": "gauge", "labels": "component kind source measured",
     "help": "Mean power of each component over the last sampling interval, watts (live runs only)."},
]
_EXPORTER_METRICS: List[Dict[str, str]] = [
    {"name": "wattprint_last_update_timestamp_seconds", "type": "gauge", "labels": "",
     "help": "Unix time at which the exporter last received a footprint."},
    {"name": "wattprint_run_info", "type": "gauge", "labels": " ".join(INFO_LABELS),
     "help": "Always 1; labels describe the run (status is running until the run ends)."},
]
# gauges that describe a live run only: left out of the final exposition and the final push
LIVE_FAMILIES = ("wattprint_power_watts", "wattprint_forecast_energy_joules")
_PROGRESS = "wattprint_progress_ratio"


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


@dataclass
class Snapshot:
    """What one exposition needs from a footprint (no reference to the footprint itself)."""

    run: List[str]
    components: List[Tuple[List[str], Optional[float], Optional[float]]]  # (labels, energy_j, power_w)
    figures: Dict[str, List[Tuple[List[str], float]]]  # family -> [(extra label values, value in base units)]
    info: List[str]
    updated_unix_s: float
    final: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)


def _scheduler_labels(fp: Footprint) -> List[str]:
    """SLURM job/step and Kubernetes pod/container of the footprint's ``job`` section ("" when absent), bounded strings."""
    job = fp.get("job")
    job = job if isinstance(job, dict) else {}
    return [encodable(str(job.get(key) or "")[:128]) for key in _SCHEDULER_KEYS]


def _job_labels(fp: Footprint) -> Tuple[str, str, Optional[str]]:
    """(job_id, node, rank) of the scheduler context (footprint ``job`` section), bounded strings."""
    job = fp.get("job")
    if not isinstance(job, dict):
        return "", "", None
    rank = job.get("rank")
    return encodable(str(job.get("job_id") or "")[:128]), encodable(str(job.get("node") or "")[:128]), None if rank is None else encodable(str(rank)[:16])


class FootprintCollector:
    """A ``prometheus_client`` collector that exposes the latest footprint.

    Thread-safe: :meth:`update` swaps one snapshot under a lock; :meth:`collect`
    builds fresh metric families from it, so a scrape never sees half an update.
    """

    def __init__(self, rank: str = "0", figures: Sequence[Figure] = FIGURES) -> None:
        self.rank = rank
        self._families = figure_families(figures)
        self._helps = {m["name"]: m["help"] for m in metric_table(figures)}
        self._lock = threading.Lock()
        self._snap: Optional[Snapshot] = None
        self._total_steps: Optional[float] = None

    def update(self, footprint: Footprint, *, final: bool = False) -> None:
        """Take the snapshot of ``footprint`` (``final``: the run's final footprint)."""
        snap = self.snapshot(footprint, final=final)
        with self._lock:
            self._snap = snap

    @property
    def has_data(self) -> bool:
        with self._lock:
            return self._snap is not None

    @property
    def is_final(self) -> bool:
        with self._lock:
            return self._snap is not None and self._snap.final

    def snapshot(self, fp: Footprint, *, final: bool = False) -> Snapshot:
        """The figures of one exposition; cost independent of the run's windows and timeline."""
        from wattprint._version import __version__

        job_id, node, job_rank = _job_labels(fp)
        rank = job_rank if job_rank is not None else self.rank
        # label values as they are, but UTF-8-encodable: one lone surrogate would fail every scrape
        run = [encodable(str(fp.get(key) or "")) for key in ("run_id", "project", "host.hostname")] + [rank]
        power = {} if final else {cid: as_float(w) for cid, w in fp.latest_power_w().items()}
        comps: List[Tuple[List[str], Optional[float], Optional[float]]] = []
        for comp in fp.get("components") or []:
            if not isinstance(comp, dict):
                continue
            what = [encodable(str(comp.get(k, ""))) for k in ("id", "kind", "source")] + ["true" if comp.get("measured") else "false"]
            e = as_float(comp.get("energy_j"))
            p = None
            if not final:
                p = power.get(str(comp.get("id")))
                if p is None:
                    p = as_float(comp.get("mean_power_w"))
            comps.append((run[:2] + what + run[2:], None if e is None else max(0.0, e), p))
        figures: Dict[str, List[Tuple[List[str], float]]] = {}
        for name, figs in self._families.items():
            if final and name in LIVE_FAMILIES:
                continue
            rows = []
            for fig in figs:
                assert fig.prometheus is not None
                value = as_float(fp.figure(fig))
                if value is not None and not (fig.kind == "work" and value == 0):  # a run that counts no tokens has no token series
                    rows.append(([v for _, v in fig.prometheus.labels], value * fig.prometheus.scale))
            figures[name] = rows
        total = as_float(fp.get("forecast.total_steps"))
        if total:
            self._total_steps = total
        steps = as_float(fp.get("work.steps")) or 0.0
        if final and self._total_steps and _PROGRESS in self._families:
            figures[_PROGRESS] = [([], min(1.0, steps / self._total_steps))]
        status = "running" if not final else str(fp.get("status") or "unknown")
        info = [encodable(status), encodable(str(fp.get("region") or "")), encodable(str(fp.get("schema") or "")), __version__, job_id, node]
        info += _scheduler_labels(fp)
        return Snapshot(run, comps, figures, info, time.time(), final)

    def collect(self) -> Iterator[Any]:
        with self._lock:
            snap = self._snap
        if snap is None:
            return
        run = snap.run
        energy = self._family("wattprint_energy_joules_total", "counter", labels=COMPONENT_LABELS)
        watts = self._family("wattprint_power_watts", "gauge", labels=COMPONENT_LABELS)
        for labels, e, p in snap.components:
            if e is not None:
                energy.add_metric(labels, e)
            if p is not None:
                watts.add_metric(labels, p)
        for family in (energy, watts):
            if family.samples:
                yield family
        for name, rows in snap.figures.items():
            figs = self._families[name]
            prom = figs[0].prometheus
            assert prom is not None
            family = self._family(name, prom.type, [k for k, _ in prom.labels])
            for extra, value in rows:
                family.add_metric(run + extra, value)
            if family.samples:
                yield family
        updated = self._family("wattprint_last_update_timestamp_seconds", "gauge")
        updated.add_metric(run, snap.updated_unix_s)
        yield updated
        info = self._family("wattprint_run_info", "gauge", INFO_LABELS)
        info.add_metric(run + snap.info, 1.0)
        yield info

    def _family(self, name: str, kind: str, extra: Sequence[str] = (), labels: Sequence[str] = RUN_LABELS) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        if kind == "counter":  # the client appends _total itself
            return CounterMetricFamily(name[: -len("_total")], self._helps[name], labels=list(labels) + list(extra))
        return GaugeMetricFamily(name, self._helps[name], labels=list(labels) + list(extra))
