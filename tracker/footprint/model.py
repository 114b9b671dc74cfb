"""The footprint: one JSON document per run (schema ``wattprint.footprint/1``), and its figures.

:class:`Footprint` is a read-only view over the document plus the run's
timeline: every accessor hands out copies (one object is shared by exporters on
several threads). The document's stable core keys are listed in DESIGN.md and
the README; more keys may be added, none of these renamed.

:data:`FIGURES` is the one table of the footprint's flat figures. Every
flattening is derived from it: :data:`CSV_FIELDS` (the stable header of the
one-row-per-run CSV; append new rows at the end, old files keep matching), the
report summary (``summary`` names), the MLflow metrics (``metric``) and the
Prometheus families (``prometheus``).

Failure modes: the accessors never raise on a document missing optional
sections (they give ``None``); :attr:`Footprint.run_id`, :attr:`status` and
:attr:`energy_j` raise ``KeyError`` on a document without them.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from wattprint._io import strict_json
from wattprint.footprint.figure import LOG_PREFIX, Figure, PromFigure
from wattprint.units import J_PER_KWH, as_float

__all__ = ["Footprint", "SCHEMA_ID", "CSV_FIELDS", "FIGURES", "Figure", "PromFigure", "COMPONENT_KINDS", "csv_fields", "LOG_PREFIX"]

SCHEMA_ID = "wattprint.footprint/1"
COMPONENT_KINDS = ("gpu", "cpu", "dram", "ram")  # named energy figures; anything else is "other"


def _copy(node: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples copied; scalars shared)."""
    if isinstance(node, dict):
        return {k: _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(v) if isinstance(v, (dict, list, tuple)) else v for v in node]
    if isinstance(node, tuple):
        return tuple(_copy(v) for v in node)
    return node


class Footprint:
    """A run's footprint (read-only; accessors return copies).

    Attributes:
        timeline: the bounded timeline (see :meth:`wattprint.engine.timeline.Timeline.to_dict`).
    """

    def __init__(self, document: Dict[str, Any], timeline: Optional[Mapping[str, Any]] = None) -> None:
        self._doc = document
        self._timeline: Optional[Mapping[str, Any]] = timeline

    def _timeline_dict(self) -> Dict[str, Any]:
        """The internal timeline dict (built once from a view); never handed out."""
        tl = self._timeline
        if tl is None:
            return {}
        if not isinstance(tl, dict):
            tl = self._timeline = tl.to_dict() if hasattr(tl, "to_dict") else dict(tl)
        return tl

    @property
    def timeline(self) -> Dict[str, Any]:
        """A copy of the run's timeline as a dict (documented layout)."""
        return _copy(self._timeline_dict())

    def latest_power_w(self) -> Dict[str, Optional[float]]:
        """Mean power per component over the timeline's last interval, watts (cheap: no full timeline)."""
        tl = self._timeline
        if tl is not None and hasattr(tl, "latest_power_w"):
            return dict(tl.latest_power_w())
        out: Dict[str, Optional[float]] = {}
        for cid, series in ((tl or {}).get("power_w") or {}).items():
            out[cid] = next((float(v) for v in reversed(series or []) if v is not None), None)
        return out

    # -- the document -------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """A copy of the footprint document (JSON-serialisable)."""
        return _copy(self._doc)

    def _with_timeline(self, timeline: bool) -> Dict[str, Any]:
        """The document to serialise: a shallow copy (nothing serialised is mutated; a deep copy costs
        more than encoding), with the internal timeline when asked. Never handed out."""
        doc = dict(self._doc)
        if timeline:
            doc["timeline"] = self._timeline_dict()  # only serialised, never handed out
        return doc

    def to_json(self, *, timeline: bool = False, indent: Optional[int] = 2) -> str:
        """The document as JSON text (with the timeline when asked)."""
        return strict_json(self._with_timeline(timeline), indent=indent)  # NaN/inf become null

    def __getitem__(self, key: str) -> Any:
        return _copy(self._doc[key])

    def _lookup(self, dotted: str, default: Any = None) -> Any:
        node: Any = self._doc
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def get(self, dotted: str, default: Any = None) -> Any:
        """A copy of the value at a dotted path, e.g. ``fp.get("carbon.total_kg")``; ``default`` when absent."""
        return _copy(self._lookup(dotted, default))

    def save(self, path: str, *, timeline: bool = True) -> None:
        """Write the document (and, by default, its timeline) to ``path`` atomically.

        Raises:
            OSError: the folder is not writable or the disk is full; no partial file is left.
        """
        from wattprint._io import atomic_write_json

        atomic_write_json(path, self._with_timeline(timeline and bool(self._timeline_dict())))

    @property
    def run_id(self) -> str:
        return str(self._doc["run_id"])

    @property
    def status(self) -> str:
        return str(self._doc["status"])

    @property
    def energy_j(self) -> float:
        """IT energy of the run, joules."""
        return float(self._doc["energy"]["it_j"])

    # -- derived figures (one computation each) -------------------------
    def _components(self) -> List[Mapping[str, Any]]:
        return [c for c in self._doc.get("components") or [] if isinstance(c, dict)]

    def it_energy_j(self) -> Optional[float]:
        """IT energy, joules: ``energy.it_j``, else the sum of the components (older or partial documents)."""
        it_j = as_float(self._lookup("energy.it_j"))
        if it_j is None:
            it_j = sum(as_float(c.get("energy_j")) or 0.0 for c in self._components())
        return it_j

    def energy_by_kind_j(self) -> Dict[str, float]:
        """Joules per component kind present (``gpu``, ``cpu``, ``dram``, ``ram``; any other kind is ``other``)."""
        out: Dict[str, float] = {}
        for c in self._components():
            kind = c.get("kind") if c.get("kind") in COMPONENT_KINDS else "other"
            out[str(kind)] = out.get(str(kind), 0.0) + (as_float(c.get("energy_j")) or 0.0)
        return out

    def component_energy_j(self, kind: str) -> float:
        """Total joules of the components of ``kind`` (``"gpu"``, ``"cpu"``..., ``"other"``); 0 when none."""
        return self.energy_by_kind_j().get(kind, 0.0)

    def measured_share(self) -> Optional[float]:
        """Share of the IT energy read from hardware counters, 0-1; ``None`` without energy."""
        it_j = self.it_energy_j()
        measured_j = sum(as_float(c.get("energy_j")) or 0.0 for c in self._components() if c.get("measured"))
        return measured_j / it_j if it_j else None

    def measured(self) -> Optional[str]:
        """``"measured"``, ``"estimated"`` or ``"mixed"`` over the components; ``None`` without any."""
        flags = {bool(c.get("measured")) for c in self._components()}
        if not flags:
            return None
        return "mixed" if len(flags) == 2 else ("measured" if True in flags else "estimated")

    def factor_value(self, key: str) -> Optional[float]:
        """The value of a factor (``"pue"``, ``"carbon_intensity_g_per_kwh"``...), or ``None``."""
        f = self._lookup(f"factors.{key}")
        return as_float(f.get("value") if isinstance(f, dict) else f)

    def figure(self, fig: "Figure") -> Any:
        """The value of one :data:`FIGURES` row (``None`` when unknown)."""
        return fig.value(self) if fig.value is not None else self.get(fig.path or fig.key)

    # -- flattening --------------------------------------------------
    def csv_row(self, figures: Sequence["Figure"] = ()) -> Dict[str, Any]:
        """The footprint flattened to the CSV columns of ``figures`` (default :data:`FIGURES`: ``CSV_FIELDS``)."""
        row: Dict[str, Any] = {}
        for fig in figures or FIGURES:
            if fig.csv:
                value = self.figure(fig)
                row[fig.key] = fig.csv_default if value is None else value
        return row

    def summary(self) -> str:
        """A few human-readable lines: energy per component (measured or estimated), carbon, water.

        Quantities are written by the :mod:`wattprint.units` formatters (readable units, three
        significant figures, ``–`` for an unknown figure), as in the report and the live line.
        """
        from wattprint.units import (
            format_carbon,
            format_duration,
            format_energy,
            format_factor,
            format_power,
            format_water,
            kwh_to_j,
        )

        d = self._doc
        carbon, water = d.get("carbon") or {}, d.get("water") or {}
        lines = [f"wattprint: run {d['run_id']} ({d['status']}), {format_duration(d.get('duration_s'))}"]
        for c in d["components"]:
            how = "measured" if c["measured"] else "estimated"
            lines.append(
                f"  {c['id']:<16} {format_energy(c.get('energy_j')):>10}  {format_power(c.get('mean_power_w')):>8} mean  {how} ({c['source']})"
            )
        pue, ci = self.factor_value("pue"), self.factor_value("carbon_intensity_g_per_kwh")
        facility_j = kwh_to_j(d["energy"].get("facility_kwh"))
        lines.append(f"  energy  IT {format_energy(self.energy_j)}, facility {format_energy(facility_j)} (PUE {format_factor(pue)})")
        if carbon.get("total_kg") is not None:
            emb = carbon.get("embodied_kg")
            lines.append(
                f"  carbon  {format_carbon(carbon['total_kg'])} (operational {format_carbon(carbon.get('operational_kg'))} "
                f"at {format_factor(ci)} gCO2e/kWh" + (f", embodied {format_carbon(emb)})" if emb is not None else ")")
            )
        if water.get("total_l") is not None:
            lines.append(
                f"  water   {format_water(water['total_l'])} (on-site {format_water(water.get('onsite_l'))}, "
                f"off-site {format_water(water.get('offsite_l'))})"
            )
        low_high = (d.get("bounds") or {}).get("carbon.total_kg")
        if low_high and None not in low_high:
            lines.append(f"  bounds  carbon {format_carbon(low_high[0])} to {format_carbon(low_high[1])} (sensor and factor uncertainty)")
        if d.get("gaps"):
            lines.append(f"  gaps    {len(d['gaps'])} span(s) with missing readings: see 'gaps' in the JSON")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Footprint(run_id={self.run_id!r}, status={self.status!r}, "
            f"energy_kwh={self._doc['energy']['it_kwh']:.6g}, carbon_kg={self.get('carbon.total_kg')})"
        )


# -- the figure table -------------------------------------------------------------


def _kind_j(kind: str) -> Callable[[Footprint], Any]:
    return lambda fp: fp.energy_by_kind_j().get(kind)


def _factor(key: str) -> Callable[[Footprint], Any]:
    return lambda fp: fp.factor_value(key)


def _components_cell(fp: Footprint) -> str:
    return ";".join(
        f"{c['id']}={c['energy_j']:.6g}J({'measured' if c['measured'] else 'estimated'}:{c['source']})" for c in fp._components()
    )


_CARBON_HELP = "Carbon of the run, grams CO2e; scope is operational or embodied."
_WATER_HELP = "Water consumed for the run, cubic meters (1 L = 0.001 m3); scope is onsite or offsite."
_P = PromFigure
F = Figure
FIGURES: Tuple[Figure, ...] = (
    F("schema", "text", "run", csv=True),
    F("run_id", "text", "run", csv=True, summary="run_id"),
    F("project", "text", "run", csv=True, summary="project"),
    F("status", "text", "run", csv=True, summary="status", value=lambda fp: fp.get("status") or "unknown"),
    F("flagged", "flag", "run", summary="flagged", value=lambda fp: fp.get("status") in ("partial", "failed")),
    F("started_at", "time", "run", csv=True, summary="started_at"),
    F("ended_at", "time", "run", csv=True),
    F("duration_s", "s", "run", csv=True, metric=True, summary="duration_s",
      prometheus=_P("wattprint_run_duration_seconds", "gauge", "Time since the run started, seconds.")),
    F("host.hostname", "text", "run", csv=True),
    F("region", "text", "run", csv=True, summary="region"),
    F("energy.it_j", "J", "energy", csv=True, metric=True, summary="energy_it_j", value=Footprint.it_energy_j),
    F("energy.it_kwh", "kWh", "energy", csv=True, metric=True, summary="energy_it_kwh"),
    F("energy.facility_kwh", "kWh", "energy", csv=True, metric=True, summary="energy_facility_kwh",
      prometheus=_P("wattprint_facility_energy_joules_total", "counter", "Facility energy of the run (IT energy x PUE), joules.", J_PER_KWH)),
    *(F(f"energy.{k}_j", "J", "energy", csv=True, summary=f"energy_{k}_j", value=_kind_j(k)) for k in COMPONENT_KINDS),
    F("energy.other_j", "J", "energy", summary="energy_other_j", value=_kind_j("other")),
    F("measured_share", "ratio", "quality", csv=True, summary="measured_share", value=Footprint.measured_share),
    F("measured", "text", "quality", summary="measured", value=Footprint.measured),
    F("factors.pue", "ratio", "factor", csv=True, metric=True, summary="pue", value=_factor("pue"),
      prometheus=_P("wattprint_pue_ratio", "gauge", "Power usage effectiveness applied to the run.")),
    F("factors.carbon_intensity_g_per_kwh", "gCO2e/kWh", "factor", csv=True, metric=True, summary="carbon_intensity_g_per_kwh",
      value=_factor("carbon_intensity_g_per_kwh"),
      prometheus=_P("wattprint_grid_intensity_grams_per_joule", "gauge",
                    "Grid carbon intensity applied, grams CO2e per joule of facility energy (g/kWh / 3.6e6).", 1.0 / J_PER_KWH)),
    F("factors.wue_l_per_kwh", "L/kWh", "factor", csv=True, metric=True, summary="wue_l_per_kwh", value=_factor("wue_l_per_kwh")),
    F("factors.ewif_l_per_kwh", "L/kWh", "factor", csv=True, metric=True, summary="ewif_l_per_kwh", value=_factor("ewif_l_per_kwh")),
    F("carbon.operational_kg", "kgCO2e", "carbon", csv=True, metric=True, summary="carbon_operational_kg",
      prometheus=_P("wattprint_carbon_grams_total", "counter", _CARBON_HELP, 1000.0, (("scope", "operational"),))),
    F("carbon.embodied_kg", "kgCO2e", "carbon", csv=True, metric=True, summary="carbon_embodied_kg",
      prometheus=_P("wattprint_carbon_grams_total", "counter", _CARBON_HELP, 1000.0, (("scope", "embodied"),))),
    F("carbon.total_kg", "kgCO2e", "carbon", csv=True, metric=True, summary="carbon_total_kg"),
    F("water.onsite_l", "L", "water", csv=True, metric=True, summary="water_onsite_l",
      prometheus=_P("wattprint_water_cubic_meters_total", "counter", _WATER_HELP, 1e-3, (("scope", "onsite"),))),
    F("water.offsite_l", "L", "water", csv=True, metric=True, summary="water_offsite_l",
      prometheus=_P("wattprint_water_cubic_meters_total", "counter", _WATER_HELP, 1e-3, (("scope", "offsite"),))),
    F("water.total_l", "L", "water", csv=True, metric=True, summary="water_total_l"),
    F("work.steps", "count", "work", csv=True, metric=True, summary="steps",
      prometheus=_P("wattprint_steps_total", "counter", "Training steps counted.")),
    F("work.samples", "count", "work", csv=True, metric=True, summary="samples",
      prometheus=_P("wattprint_samples_total", "counter", "Samples counted.")),
    F("work.tokens", "count", "work", csv=True, metric=True, summary="tokens",
      prometheus=_P("wattprint_tokens_total", "counter", "Tokens counted.")),
    F("work.flops", "FLOP", "work", csv=True, metric=True, summary="flops"),
    F("work.j_per_step", "J", "work", metric=True, summary="j_per_step"),
    F("work.j_per_sample", "J", "work", metric=True, summary="j_per_sample"),
    F("work.j_per_token", "J", "work", csv=True, metric=True, summary="j_per_token"),
    F("work.mfu", "ratio", "work", csv=True, metric=True, summary="mfu"),
    F("work.cci_g_per_eflop", "gCO2e/EFLOP", "work", csv=True, metric=True, summary="cci_g_per_eflop"),
    F("forecast.energy_j", "J", "forecast", summary="forecast_energy_j",
      prometheus=_P("wattprint_forecast_energy_joules", "gauge",
                    "Projected IT energy of the whole run from the steps done so far, joules (only with total_steps).")),
    F("forecast.progress", "ratio", "forecast", summary="forecast_progress",
      prometheus=_P("wattprint_progress_ratio", "gauge", "Share of total_steps done, 0-1 (only with total_steps).")),
    F("notes", "text", "run", summary="notes", value=lambda fp: "; ".join(str(n) for n in fp.get("notes") or [])),
    F("components", "text", "energy", csv=True, value=_components_cell),
    F("gaps", "count", "quality", csv=True, value=lambda fp: len(fp.get("gaps") or [])),
    # reporting standards (issue 14): CUE, carbon by scope, the water's source, the task stage
    F("carbon.cue_kg_per_kwh", "kgCO2e/kWh", "carbon", metric=True, summary="cue_kg_per_kwh"),
    F("carbon.scope2_location_kg", "kgCO2e", "carbon", metric=True, summary="carbon_scope2_location_kg"),
    F("carbon.scope2_market_kg", "kgCO2e", "carbon", metric=True, summary="carbon_scope2_market_kg"),
    F("carbon.scope3_embodied_kg", "kgCO2e", "carbon", metric=True, summary="carbon_scope3_embodied_kg"),
    F("water.source", "text", "water", summary="water_source"),
    F("task_stage", "text", "run", summary="task_stage"),
    # water withdrawal beside consumption (issue 15; only when asked for)
    F("water.withdrawal_onsite_l", "L", "water", metric=True, summary="water_withdrawal_onsite_l"),
    F("water.withdrawal_offsite_l", "L", "water", metric=True, summary="water_withdrawal_offsite_l"),
    F("water.withdrawal_total_l", "L", "water", metric=True, summary="water_withdrawal_total_l"),
    # a serving run's requests (issue 13; only when requests were recorded)
    F("inference.requests", "count", "inference", metric=True, summary="requests"),
    F("inference.tokens_out", "count", "inference", metric=True, summary="tokens_out"),
    F("inference.energy_j", "J", "inference", metric=True, summary="inference_energy_j"),
    F("inference.idle_energy_j", "J", "inference", metric=True, summary="inference_idle_energy_j"),
    F("inference.j_per_request", "J", "inference", metric=True, summary="j_per_request"),
    F("inference.wh_per_1000_requests", "Wh", "inference", metric=True, summary="wh_per_1000_requests"),
    F("inference.carbon_g_per_request", "gCO2e", "inference", metric=True, summary="carbon_g_per_request"),
    F("inference.water_ml_per_request", "mL", "inference", metric=True, summary="water_ml_per_request"),
)
del F


def csv_fields(figures: Sequence[Figure] = FIGURES) -> List[str]:
    """The CSV header derived from a figure table."""
    return [f.key for f in figures if f.csv]


# Flattened core keys, in this order, forever (append new rows to FIGURES at the end).
CSV_FIELDS: List[str] = csv_fields()
