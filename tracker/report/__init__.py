"""Reports on saved footprints: tables, comparisons and what-if regions.

Read ``<run_id>.json`` files (or output folders holding them), summarise each
run (energy per component, carbon operational and embodied, water on-site and
off-site, joules per token, measured or estimated), compare runs, and re-price
the measured energy for other regions::

    from wattprint import report
    fps = report.load_footprints(["wattprint-runs"])
    print(report.render(fps, "table"))
    rows = report.what_if(fps[0], ["IE", "SG", "US-VA"], pue=1.2)

Units: machine-readable outputs (``summarize``, ``what_if``, the ``json`` and
``csv`` formats) keep the footprint's base units and say them in the key
(``energy_it_j``, ``carbon_total_kg``, ``water_total_l``). The ``table`` and
``md`` formats scale each figure to a readable unit (Wh, kWh, g, kg, mL, L).

Failure modes: a path that does not exist, or a file named explicitly that is
not a wattprint footprint, raises :class:`ReportError`. Files in a folder that
are not footprints are skipped (listed in ``LoadResult.skipped``). An unknown
what-if region raises :class:`~wattprint.errors.ConfigError` (from
:func:`wattprint.footprint.accounting.resolve_factors`).
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from wattprint.errors import WattprintError
from wattprint.footprint.model import SCHEMA_ID, Footprint

__all__ = [
    "ReportError",
    "LoadResult",
    "Table",
    "FORMATS",
    "SUMMARY_FIELDS",
    "WHAT_IF_FIELDS",
    "load_footprint",
    "load_footprints",
    "find_footprints",
    "summarize",
    "what_if",
    "run_tables",
    "comparison_table",
    "what_if_table",
    "render",
    "render_tables",
    "format_energy",
    "format_carbon",
    "format_water",
    "format_duration",
    "format_power",
    "report_tables",
    "html_table",
]

FORMATS = ("table", "md", "json", "csv")
REPORT_SCHEMA_ID = "wattprint.report/1"
_FLAGGED = ("partial", "failed")
_KINDS = ("gpu", "cpu", "dram", "ram")


class ReportError(WattprintError):
    """A report input is missing or is not a wattprint footprint."""


# -- loading ---------------------------------------------------------------------


@dataclass
class LoadResult:
    """Footprints found under some paths.

    Attributes:
        footprints: the runs, in path order (files in a folder sorted by start time).
        paths: the file each footprint came from (same order).
        skipped: ``(path, reason)`` for the files in folders that were not footprints.
        folded: ``(path, job run id)`` for per-rank footprints found in a folder next
            to their distributed job footprint, which already counts them.
    """

    footprints: List[Footprint] = field(default_factory=list)
    paths: List[str] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    folded: List[Tuple[str, str]] = field(default_factory=list)


def _is_footprint(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and str(doc.get("schema", "")).startswith(SCHEMA_ID.split("/")[0] + "/")
        and isinstance(doc.get("energy"), dict)
        and isinstance(doc.get("components"), list)
    )


def load_footprint(path: str) -> Footprint:
    """Read one ``<run_id>.json`` written by wattprint (with or without its timeline).

    Raises:
        ReportError: the file is missing, unreadable, not JSON, or not a footprint.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ReportError(f"{path}: cannot read ({err})") from err
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not JSON ({err.msg}, line {err.lineno}); a run still being written?") from err
    if not _is_footprint(doc):
        raise ReportError(f"{path}: not a wattprint footprint (no schema {SCHEMA_ID!r})")
    timeline = doc.pop("timeline", None)
    return Footprint(doc, timeline if isinstance(timeline, dict) else {})


def find_footprints(paths: Sequence[str], *, recursive: bool = False) -> List[str]:
    """The ``*.json`` files named by ``paths`` (files as given; folders listed, sorted).

    Raises:
        ReportError: a path does not exist.
    """
    found: List[str] = []
    for p in paths:
        if os.path.isdir(p):
            if recursive:
                for root, dirs, files in os.walk(p):
                    dirs.sort()
                    found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".json"))
            else:
                found.extend(os.path.join(p, f) for f in sorted(os.listdir(p)) if f.endswith(".json"))
        elif os.path.exists(p):
            found.append(p)
        else:
            raise ReportError(f"{p}: no such file or folder")
    return found


def _job_of(fp: Footprint) -> Tuple[bool, Optional[str]]:
    """(is a distributed job footprint, the job run id a rank footprint belongs to)."""
    sec = fp.get("distributed")
    if not isinstance(sec, dict):
        return False, None
    if isinstance(sec.get("ranks"), list):
        return True, None
    job = sec.get("job_run_id")
    return False, (str(job) if job and str(job) != fp.run_id else None)


def load_footprints(paths: Sequence[str], *, recursive: bool = False, ranks: bool = False) -> LoadResult:
    """Load the footprints named by ``paths`` (files or output folders).

    A file named explicitly must be a footprint; in a folder, other JSON
    files are skipped. The same file given twice is read once. Runs from a
    folder are ordered by ``started_at``. In a folder holding a distributed
    job footprint (``<run_id>.job.json``), that job's per-rank footprints are
    folded into it (listed in ``LoadResult.folded``) unless ``ranks`` is true,
    so a comparison never counts a job twice.

    Raises:
        ReportError: a path does not exist, or an explicit file is not a footprint.
    """
    result = LoadResult()
    seen: set = set()
    for p in paths:
        explicit = not os.path.isdir(p)
        batch: List[Tuple[str, Footprint]] = []
        for f in find_footprints([p], recursive=recursive):
            key = os.path.realpath(f)
            if key in seen:
                continue
            seen.add(key)
            try:
                batch.append((f, load_footprint(f)))
            except ReportError as err:
                if explicit:
                    raise
                result.skipped.append((f, str(err).split(": ", 1)[-1]))
        batch.sort(key=lambda pf: str(pf[1].get("started_at") or ""))
        if not explicit and not ranks:
            jobs = {fp.run_id for _, fp in batch if _job_of(fp)[0]}
            kept = []
            for f, fp in batch:
                job = _job_of(fp)[1]
                if job is not None and job in jobs:
                    result.folded.append((f, job))
                else:
                    kept.append((f, fp))
            batch = kept
        for f, fp in batch:
            result.paths.append(f)
            result.footprints.append(fp)
    return result


# -- summaries -----------------------------------------------------------------------

SUMMARY_FIELDS: List[str] = [
    "run_id",
    "project",
    "status",
    "flagged",
    "started_at",
    "duration_s",
    "region",
    "energy_it_j",
    "energy_it_kwh",
    "energy_facility_kwh",
    "energy_gpu_j",
    "energy_cpu_j",
    "energy_dram_j",
    "energy_ram_j",
    "energy_other_j",
    "measured_share",
    "measured",
    "pue",
    "carbon_intensity_g_per_kwh",
    "wue_l_per_kwh",
    "ewif_l_per_kwh",
    "carbon_operational_kg",
    "carbon_embodied_kg",
    "carbon_total_kg",
    "water_onsite_l",
    "water_offsite_l",
    "water_total_l",
    "steps",
    "samples",
    "tokens",
    "j_per_step",
    "j_per_sample",
    "j_per_token",
    "forecast_energy_j",
    "forecast_progress",
    "notes",
]


def _num(value: Any) -> Optional[float]:
    if isinstance(value, bool) or value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _factor(doc: Mapping[str, Any], key: str) -> Optional[float]:
    f = (doc.get("factors") or {}).get(key)
    return _num(f.get("value")) if isinstance(f, dict) else _num(f)


def _doc(fp: Any) -> Dict[str, Any]:
    return fp.to_dict() if isinstance(fp, Footprint) else dict(fp)


def summarize(fp: Any) -> Dict[str, Any]:
    """One flat, unit-named record of a run (keys :data:`SUMMARY_FIELDS`).

    ``measured`` is ``"measured"``, ``"estimated"`` or ``"mixed"``;
    ``flagged`` is true for partial and failed runs. Unknown figures are ``None``.
    """
    d = _doc(fp)
    comps = [c for c in d.get("components") or [] if isinstance(c, dict)]
    energy = d.get("energy") or {}
    carbon = d.get("carbon") or {}
    water = d.get("water") or {}
    work = d.get("work") or {}
    forecast = d.get("forecast") or {}
    it_j = _num(energy.get("it_j"))
    if it_j is None:
        it_j = sum(_num(c.get("energy_j")) or 0.0 for c in comps)
    by_kind: Dict[str, float] = {}
    for c in comps:
        kind = c.get("kind") if c.get("kind") in _KINDS else "other"
        by_kind[kind] = by_kind.get(kind, 0.0) + (_num(c.get("energy_j")) or 0.0)
    measured_j = sum(_num(c.get("energy_j")) or 0.0 for c in comps if c.get("measured"))
    flags = {bool(c.get("measured")) for c in comps}
    status = d.get("status") or "unknown"
    return {
        "run_id": d.get("run_id"),
        "project": d.get("project"),
        "status": status,
        "flagged": status in _FLAGGED,
        "started_at": d.get("started_at"),
        "duration_s": _num(d.get("duration_s")),
        "region": d.get("region"),
        "energy_it_j": it_j,
        "energy_it_kwh": _num(energy.get("it_kwh")),
        "energy_facility_kwh": _num(energy.get("facility_kwh")),
        **{f"energy_{k}_j": by_kind.get(k) for k in _KINDS + ("other",)},
        "measured_share": measured_j / it_j if it_j else None,
        "measured": "measured" if flags == {True} else ("estimated" if flags == {False} else ("mixed" if flags else None)),
        "pue": _factor(d, "pue"),
        "carbon_intensity_g_per_kwh": _factor(d, "carbon_intensity_g_per_kwh"),
        "wue_l_per_kwh": _factor(d, "wue_l_per_kwh"),
        "ewif_l_per_kwh": _factor(d, "ewif_l_per_kwh"),
        "carbon_operational_kg": _num(carbon.get("operational_kg")),
        "carbon_embodied_kg": _num(carbon.get("embodied_kg")),
        "carbon_total_kg": _num(carbon.get("total_kg")),
        "water_onsite_l": _num(water.get("onsite_l")),
        "water_offsite_l": _num(water.get("offsite_l")),
        "water_total_l": _num(water.get("total_l")),
        "steps": work.get("steps"),
        "samples": work.get("samples"),
        "tokens": work.get("tokens"),
        "j_per_step": _num(work.get("j_per_step")),
        "j_per_sample": _num(work.get("j_per_sample")),
        "j_per_token": _num(work.get("j_per_token")),
        "forecast_energy_j": _num(forecast.get("energy_j")) if isinstance(forecast, dict) else None,
        "forecast_progress": _num(forecast.get("progress")) if isinstance(forecast, dict) else None,
        "notes": "; ".join(str(n) for n in d.get("notes") or []),
    }


# -- what-if -------------------------------------------------------------------------

WHAT_IF_FIELDS: List[str] = [
    "run_id",
    "scenario",
    "region",
    "recorded",
    "pue",
    "carbon_intensity_g_per_kwh",
    "wue_l_per_kwh",
    "ewif_l_per_kwh",
    "energy_it_kwh",
    "energy_facility_kwh",
    "carbon_operational_kg",
    "carbon_embodied_kg",
    "carbon_total_kg",
    "water_onsite_l",
    "water_offsite_l",
    "water_total_l",
    "carbon_vs_recorded_kg",
    "carbon_vs_recorded_rel",
    "water_vs_recorded_l",
    "water_vs_recorded_rel",
    "intensity_source",
]


def _parse_time(value: Any) -> Optional[_dt.datetime]:
    if not isinstance(value, str):
        return None
    try:
        return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _rel(new: Optional[float], old: Optional[float]) -> Optional[float]:
    if new is None or old is None or old == 0:
        return None
    return new / old - 1.0


def _diff(new: Optional[float], old: Optional[float]) -> Optional[float]:
    return None if new is None or old is None else new - old


def what_if(fp: Any, regions: Sequence[str], *, pue: Optional[float] = None) -> List[Dict[str, Any]]:
    """Re-price the run's measured energy for other regions (keys :data:`WHAT_IF_FIELDS`).

    The first row is the run as recorded; each region follows, priced with
    that region's bundled factors (``WATTPRINT_*`` variables are ignored so
    the comparison is reproducible) and ``pue`` when given. Differences are
    against the recorded run: ``*_vs_recorded_rel`` is a fraction (0.5 = 50 % more).
    Embodied carbon does not depend on the region and is carried over.

    Raises:
        ConfigError: an unknown region or a PUE below 1.
    """
    from wattprint.footprint.accounting import account, resolve_factors

    d = _doc(fp)
    timeline = fp.timeline if isinstance(fp, Footprint) else None
    base = summarize(d)
    rows: List[Dict[str, Any]] = []
    base_row = {k: base.get(k) for k in WHAT_IF_FIELDS if k in base}
    base_row.update(
        scenario=f"recorded ({d.get('region') or 'unknown'})",
        recorded=True,
        intensity_source=((d.get("factors") or {}).get("carbon_intensity_g_per_kwh") or {}).get("source"),
    )
    rows.append(base_row)
    work = dict(d.get("work") or {})
    for region in regions:
        factors = resolve_factors(region=region, pue=pue, env={})
        acc = account(
            components=[dict(c) for c in d.get("components") or []],
            duration_s=float(d.get("duration_s") or 0.0),
            work=work,
            factors=factors,
            started_at=_parse_time(d.get("started_at")),
            timeline=timeline or None,
        )
        s = summarize({**d, **acc, "factors": acc.get("factors", factors.to_dict())})
        embodied = s["carbon_embodied_kg"] if s["carbon_embodied_kg"] is not None else base["carbon_embodied_kg"]
        total = s["carbon_total_kg"]
        if s["carbon_embodied_kg"] is None and embodied is not None and s["carbon_operational_kg"] is not None:
            total = s["carbon_operational_kg"] + embodied
        row = {k: s.get(k) for k in WHAT_IF_FIELDS if k in s}
        row.update(
            run_id=d.get("run_id"),
            scenario=str(region) + (f" (PUE {pue:g})" if pue is not None else ""),
            region=acc.get("region", getattr(factors, "region", region)),
            recorded=False,
            carbon_embodied_kg=embodied,
            carbon_total_kg=total,
            intensity_source=getattr(getattr(factors, "carbon_intensity", None), "source", None),
        )
        rows.append(row)
    for row in rows:
        row["carbon_vs_recorded_kg"] = _diff(row.get("carbon_total_kg"), base["carbon_total_kg"])
        row["carbon_vs_recorded_rel"] = _rel(row.get("carbon_total_kg"), base["carbon_total_kg"])
        row["water_vs_recorded_l"] = _diff(row.get("water_total_l"), base["water_total_l"])
        row["water_vs_recorded_rel"] = _rel(row.get("water_total_l"), base["water_total_l"])
    return [{k: r.get(k) for k in WHAT_IF_FIELDS} for r in rows]


# -- human units -------------------------------------------------------------------------


def _digits(x: float) -> str:
    """Three significant figures, never scientific notation for everyday sizes."""
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    if a >= 0.001:
        return f"{x:.3f}".rstrip("0").rstrip(".") if a < 0.01 else f"{x:.3f}"
    return f"{x:.2e}"


# (unit, size of the unit in base units); the first unit whose size fits is used
_UNITS: Dict[str, List[Tuple[str, float]]] = {
    "energy_j": [("J", 1.0), ("Wh", 3600.0), ("kWh", 3.6e6), ("MWh", 3.6e9), ("GWh", 3.6e12)],
    "carbon_kg": [("mg", 1e-6), ("g", 1e-3), ("kg", 1.0), ("t", 1e3), ("kt", 1e6)],
    "water_l": [("mL", 1e-3), ("L", 1.0), ("m³", 1e3), ("ML", 1e6)],
    "power_w": [("W", 1.0), ("kW", 1e3), ("MW", 1e6)],
}


# everyday units, used from a tenth of one upwards (0.5 Wh rather than 1,800 J; 0.3 g rather than 300 mg)
_PREFERRED = {("energy_j", "Wh"), ("carbon_kg", "g")}


def _unit_for(quantity: str, magnitude: float) -> Tuple[str, float]:
    units = _UNITS[quantity]
    chosen = units[0]
    a = abs(magnitude)
    if a == 0:  # nothing: say it in the everyday unit (0 g, not 0 mg)
        return next(((n, sz) for n, sz in units if (quantity, n) in _PREFERRED), chosen)
    for name, size in units:
        threshold = size * (0.1 if (quantity, name) in _PREFERRED else 1.0)
        if a >= threshold:
            chosen = (name, size)
    return chosen


def _fmt(quantity: str, value: Optional[float], unit: Optional[Tuple[str, float]] = None, suffix: str = "") -> str:
    if value is None:
        return "–"
    name, size = unit or _unit_for(quantity, value)
    return f"{_digits(value / size)} {name}{suffix}"


def format_energy(energy_j: Optional[float]) -> str:
    """Joules in a readable unit (J, Wh, kWh, MWh); ``–`` when unknown."""
    return _fmt("energy_j", energy_j)


def format_carbon(carbon_kg: Optional[float]) -> str:
    """kgCO2e in a readable unit (mg, g, kg, t) with the ``CO2e`` suffix."""
    return _fmt("carbon_kg", carbon_kg, suffix="CO2e")


def format_water(water_l: Optional[float]) -> str:
    """Litres in a readable unit (mL, L, m³)."""
    return _fmt("water_l", water_l)


def format_power(power_w: Optional[float]) -> str:
    return _fmt("power_w", power_w)


def format_duration(duration_s: Optional[float]) -> str:
    """Seconds as ``12.3 s``, ``4 min 05 s``, ``2 h 07 min`` or ``3 d 04 h``."""
    if duration_s is None:
        return "–"
    s = float(duration_s)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    if s < 86400:
        return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"
    return f"{int(s // 86400)} d {int(s % 86400 // 3600):02d} h"


def _pct(x: Optional[float], signed: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x * 100:+.0f}%" if signed else f"{x * 100:.0f}%"


def _column_unit(quantity: str, values: Iterable[Optional[float]]) -> Tuple[str, float]:
    vals = [abs(v) for v in values if v is not None]
    return _unit_for(quantity, max(vals) if vals else 0.0)


# -- tables ---------------------------------------------------------------------------------


@dataclass
class Table:
    """A titled table of strings; ``align`` holds ``"l"`` or ``"r"`` per column."""

    title: str
    headers: List[str]
    rows: List[List[str]]
    align: List[str]
    notes: List[str] = field(default_factory=list)


def _status_label(summary: Mapping[str, Any]) -> str:
    status = str(summary.get("status"))
    return f"{status.upper()} ⚠" if summary.get("flagged") else status


def run_tables(fp: Any) -> List[Table]:
    """The per-run view: a component table and a figures table."""
    d = _doc(fp)
    s = summarize(d)
    it_j = s["energy_it_j"] or 0.0
    comp_rows: List[List[str]] = []
    for c in d.get("components") or []:
        e = _num(c.get("energy_j"))
        comp_rows.append(
            [
                str(c.get("id")),
                str(c.get("name") or c.get("kind") or ""),
                format_energy(e),
                _pct(e / it_j if e is not None and it_j else None),
                format_power(_num(c.get("mean_power_w"))),
                format_power(_num(c.get("peak_power_w"))),
                ("measured" if c.get("measured") else "estimated") + f" ({c.get('source')})",
            ]
        )
    dist = d.get("distributed") if isinstance(d.get("distributed"), dict) else {}
    kind = "Run"
    if isinstance(dist.get("ranks"), list):
        kind = f"Job ({dist.get('ranks_reported', len(dist['ranks']))} ranks on {dist.get('nodes', '?')} node(s))"
    elif dist.get("job_run_id") and dist.get("job_run_id") != s["run_id"]:
        kind = f"Rank {dist.get('rank')} of job {dist.get('job_run_id')}:"
    title = (
        f"{kind} {s['run_id']} · project {s['project']} · {_status_label(s)} · "
        f"{format_duration(s['duration_s'])} · region {s['region']} · started {s['started_at']}"
    )
    comps = Table(
        title,
        ["component", "device", "energy", "share", "mean power", "peak power", "how"],
        comp_rows,
        ["l", "l", "r", "r", "r", "r", "l"],
    )
    factors = d.get("factors") or {}

    def src(key: str) -> str:
        f = factors.get(key) or {}
        return str(f.get("source") or "") if isinstance(f, dict) else ""

    fig_rows = [
        ["IT energy", format_energy(s["energy_it_j"]), f"{_pct(s['measured_share'])} measured" if s["measured_share"] is not None else ""],
        [
            "facility energy",
            format_energy(s["energy_facility_kwh"] * 3.6e6 if s["energy_facility_kwh"] is not None else None),
            f"PUE {s['pue']:g} ({src('pue')})" if s["pue"] is not None else "",
        ],
        [
            "carbon, operational",
            format_carbon(s["carbon_operational_kg"]),
            f"{s['carbon_intensity_g_per_kwh']:g} gCO2e/kWh ({src('carbon_intensity_g_per_kwh')})"
            if s["carbon_intensity_g_per_kwh"] is not None
            else "",
        ],
        ["carbon, embodied", format_carbon(s["carbon_embodied_kg"]), _embodied_basis(d)],
        ["carbon, total", format_carbon(s["carbon_total_kg"]), ""],
        [
            "water, on-site",
            format_water(s["water_onsite_l"]),
            f"WUE {s['wue_l_per_kwh']:g} L/kWh ({src('wue_l_per_kwh')})" if s["wue_l_per_kwh"] is not None else "",
        ],
        [
            "water, off-site",
            format_water(s["water_offsite_l"]),
            f"EWIF {s['ewif_l_per_kwh']:g} L/kWh ({src('ewif_l_per_kwh')})" if s["ewif_l_per_kwh"] is not None else "",
        ],
        ["water, total", format_water(s["water_total_l"]), ""],
    ]
    for key in ("steps", "samples", "tokens"):
        if s[key]:
            fig_rows.append([key, f"{s[key]:,}", "counted with Tracker.step()"])
    for key, label in (("j_per_step", "energy per step"), ("j_per_sample", "energy per sample"), ("j_per_token", "energy per token")):
        if s[key] is not None:
            fig_rows.append([label, f"{_digits(s[key])} J", ""])
    if s["forecast_energy_j"] is not None:
        fig_rows.append(
            ["forecast (final)", format_energy(s["forecast_energy_j"]), f"at {_pct(s['forecast_progress'])} of the steps, linear"]
        )
    windows = d.get("windows") or []
    if windows:
        for w in windows[:10]:
            fig_rows.append([f"window {w.get('name')}", format_energy(_num(w.get("energy_j"))), format_duration(_num(w.get("duration_s")))])
        if len(windows) > 10:
            fig_rows.append([f"… {len(windows) - 10} more windows", "", ""])
    figures = Table("Footprint", ["figure", "value", "basis"], fig_rows, ["l", "r", "l"])
    if s["flagged"]:
        figures.notes.append(
            f"⚠ status {s['status']}: "
            + ("the run did not finish normally; figures cover what was measured." if s["status"] == "partial" else "the run failed; figures cover what ran.")
        )
    for n in d.get("notes") or []:
        figures.notes.append(f"note: {n}")
    if s["measured"] in ("estimated", "mixed"):
        figures.notes.append("estimated components are modelled, not measured: read them as ±50%.")
    return [comps, figures]


def _embodied_basis(d: Mapping[str, Any]) -> str:
    section = d.get("embodied") if isinstance(d.get("embodied"), dict) else {}
    devices = [x for x in section.get("devices") or [] if isinstance(x, dict)]
    bits = [
        f"{x.get('model')}: {_digits(float(x['embodied_kgco2e']))} kgCO2e over {x.get('lifetime_years'):g} y"
        for x in devices
        if _num(x.get("embodied_kgco2e")) is not None and _num(x.get("lifetime_years")) is not None
    ]
    missing = section.get("missing") or []
    if missing:
        bits.append("not known for " + ", ".join(map(str, missing)))
    if bits:
        return "; ".join(bits)
    return "hardware share over the run" if (d.get("carbon") or {}).get("embodied_kg") is not None else "not known"


def comparison_table(footprints: Sequence[Any]) -> Table:
    """One row per run; each column in one unit so runs compare by eye."""
    sums = [summarize(fp) for fp in footprints]
    kinds = [k for k in _KINDS + ("other",) if any(s[f"energy_{k}_j"] is not None for s in sums)]
    e_cols = ["energy_it_j"] + [f"energy_{k}_j" for k in kinds]
    e_units = {c: _column_unit("energy_j", (s[c] for s in sums)) for c in e_cols}
    c_cols = ["carbon_operational_kg", "carbon_embodied_kg", "carbon_total_kg"]
    c_units = {c: _column_unit("carbon_kg", (s[c] for s in sums)) for c in c_cols}
    w_cols = ["water_onsite_l", "water_offsite_l", "water_total_l"]
    w_units = {c: _column_unit("water_l", (s[c] for s in sums)) for c in w_cols}
    headers = ["run", "status", "duration", "region"]
    headers += [f"IT energy [{e_units['energy_it_j'][0]}]"] + [f"{k.upper()} [{e_units[f'energy_{k}_j'][0]}]" for k in kinds]
    headers += ["measured"]
    headers += [f"CO2e op [{c_units[c_cols[0]][0]}]", f"CO2e emb [{c_units[c_cols[1]][0]}]", f"CO2e total [{c_units[c_cols[2]][0]}]"]
    headers += [f"water on-site [{w_units[w_cols[0]][0]}]", f"water off-site [{w_units[w_cols[1]][0]}]", f"water total [{w_units[w_cols[2]][0]}]"]
    headers += ["J/token"]
    rows = []
    for s in sums:
        row = [str(s["run_id"]), _status_label(s), format_duration(s["duration_s"]), str(s["region"])]
        row += [_digits(s[c] / e_units[c][1]) if s[c] is not None else "–" for c in e_cols]
        row += [_pct(s["measured_share"])]
        row += [_digits(s[c] / c_units[c][1]) if s[c] is not None else "–" for c in c_cols]
        row += [_digits(s[c] / w_units[c][1]) if s[c] is not None else "–" for c in w_cols]
        row += [_digits(s["j_per_token"]) if s["j_per_token"] is not None else "–"]
        rows.append(row)
    table = Table(f"Comparison of {len(sums)} runs", headers, rows, ["l", "l", "r", "l"] + ["r"] * (len(headers) - 4))
    flagged = [s["run_id"] for s in sums if s["flagged"]]
    if flagged:
        table.notes.append(f"⚠ partial or failed (figures cover only what was measured): {', '.join(map(str, flagged))}")
    if len(sums) > 1:
        base = sums[0]
        for s in sums[1:]:
            rel_e = _rel(s["energy_it_j"], base["energy_it_j"])
            rel_c = _rel(s["carbon_total_kg"], base["carbon_total_kg"])
            if rel_e is not None or rel_c is not None:
                table.notes.append(
                    f"{s['run_id']} vs {base['run_id']}: energy {_pct(rel_e, signed=True)}, carbon {_pct(rel_c, signed=True)}"
                )
    return table


def what_if_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """A what-if table (rows from :func:`what_if` for one run)."""
    c_unit = _column_unit("carbon_kg", (r.get("carbon_total_kg") for r in rows))
    w_unit = _column_unit("water_l", (r.get("water_total_l") for r in rows))
    headers = [
        "scenario",
        "PUE",
        "gCO2e/kWh",
        f"CO2e op [{c_unit[0]}]",
        f"CO2e total [{c_unit[0]}]",
        "Δ CO2e",
        "WUE L/kWh",
        "EWIF L/kWh",
        f"water on-site [{w_unit[0]}]",
        f"water off-site [{w_unit[0]}]",
        f"water total [{w_unit[0]}]",
        "Δ water",
    ]

    def n(v: Any, unit: Optional[Tuple[str, float]] = None) -> str:
        v = _num(v)
        if v is None:
            return "–"
        return _digits(v / unit[1]) if unit else f"{v:g}"

    out = []
    for r in rows:
        out.append(
            [
                str(r.get("scenario")),
                n(r.get("pue")),
                _digits(_num(r.get("carbon_intensity_g_per_kwh"))) if _num(r.get("carbon_intensity_g_per_kwh")) is not None else "–",
                n(r.get("carbon_operational_kg"), c_unit),
                n(r.get("carbon_total_kg"), c_unit),
                "" if r.get("recorded") else _pct(r.get("carbon_vs_recorded_rel"), signed=True),
                n(r.get("wue_l_per_kwh")),
                n(r.get("ewif_l_per_kwh")),
                n(r.get("water_onsite_l"), w_unit),
                n(r.get("water_offsite_l"), w_unit),
                n(r.get("water_total_l"), w_unit),
                "" if r.get("recorded") else _pct(r.get("water_vs_recorded_rel"), signed=True),
            ]
        )
    run_id = rows[0].get("run_id") if rows else ""
    it = rows[0].get("energy_it_kwh") if rows else None
    table = Table(
        f"What if run {run_id} had run elsewhere (same measured IT energy, {format_energy(it * 3.6e6 if it is not None else None)})",
        headers,
        out,
        ["l"] + ["r"] * (len(headers) - 1),
    )
    others = [r for r in rows if not r.get("recorded")]
    for key, label, fmt in (("carbon_total_kg", "carbon", format_carbon), ("water_total_l", "water", format_water)):
        vals = [(r, _num(r.get(key))) for r in others if _num(r.get(key)) is not None]
        if len(vals) >= 2:
            hi = max(vals, key=lambda rv: rv[1])
            lo = min(vals, key=lambda rv: rv[1])
            if lo[1] and hi[1] != lo[1]:
                table.notes.append(
                    f"{label}: {hi[0]['scenario']} {fmt(hi[1])} is {hi[1] / lo[1]:.2f}× {lo[0]['scenario']} {fmt(lo[1])} "
                    f"({_pct(hi[1] / lo[1] - 1, signed=True)})"
                )
    return table


# -- rendering ---------------------------------------------------------------------------


_MAX_CELL = 72  # terminal tables cut longer cells (factor sources) with "…"; md, json and csv keep them whole


def _cut(cell: str) -> str:
    return cell if len(cell) <= _MAX_CELL else cell[: _MAX_CELL - 1] + "…"


def _text_table(t: Table) -> str:
    t = Table(t.title, t.headers, [[_cut(c) for c in r] for r in t.rows], t.align, t.notes)
    widths = [len(h) for h in t.headers]
    for row in t.rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(widths[i]) if t.align[i] == "r" else c.ljust(widths[i]) for i, c in enumerate(cells)]
        return "  " + "  ".join(parts).rstrip()

    out = [t.title, line(t.headers), "  " + "  ".join("─" * w for w in widths)]
    out += [line(r) for r in t.rows]
    out += ["  " + n for n in t.notes]
    return "\n".join(out)


def _md_escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def _md_table(t: Table) -> str:
    out = [f"### {t.title}", ""]
    out.append("| " + " | ".join(_md_escape(h) for h in t.headers) + " |")
    out.append("|" + "|".join("---:" if a == "r" else ":---" for a in t.align) + "|")
    out += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in t.rows]
    if t.notes:
        out.append("")
        out += [f"- {n}" for n in t.notes]
    return "\n".join(out)


def html_table(t: Table) -> str:
    """One table as an HTML fragment (escaped)."""
    e = html.escape
    out = [f"<h3>{e(t.title)}</h3>", "<table>", "<thead><tr>"]
    out += [f'<th class="{"num" if a == "r" else ""}">{e(h)}</th>' for h, a in zip(t.headers, t.align)]
    out.append("</tr></thead><tbody>")
    for r in t.rows:
        out.append("<tr>" + "".join(f'<td class="{"num" if a == "r" else ""}">{e(c)}</td>' for c, a in zip(r, t.align)) + "</tr>")
    out.append("</tbody></table>")
    if t.notes:
        out.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in t.notes) + "</ul>")
    return "\n".join(out)


def render_tables(tables: Sequence[Table], fmt: str = "table") -> str:
    """Tables as terminal text (``table``) or Markdown (``md``)."""
    if fmt == "md":
        return "\n\n".join(_md_table(t) for t in tables) + "\n"
    if fmt == "table":
        return "\n\n".join(_text_table(t) for t in tables) + "\n"
    raise ValueError(f"render_tables: fmt must be 'table' or 'md', got {fmt!r}")


def report_tables(footprints: Sequence[Any], *, what_if_rows: Optional[Sequence[Sequence[Mapping[str, Any]]]] = None, details: bool = True) -> List[Table]:
    """Every table of a report: per-run tables, the comparison (2+ runs), what-if tables."""
    tables: List[Table] = []
    if details or len(footprints) == 1:
        for fp in footprints:
            tables.extend(run_tables(fp))
    if len(footprints) > 1:
        tables.append(comparison_table(footprints))
    for rows in what_if_rows or []:
        tables.append(what_if_table(rows))
    return tables


def render(
    footprints: Sequence[Any],
    fmt: str = "table",
    *,
    regions: Sequence[str] = (),
    pue: Optional[float] = None,
    details: bool = True,
) -> str:
    """The report of ``footprints`` in ``fmt`` (one of :data:`FORMATS`).

    ``regions``/``pue`` add what-if scenarios (see :func:`what_if`). In
    ``csv`` the rows are the runs, or the what-if rows when scenarios are given.

    Raises:
        ValueError: an unknown format. ConfigError: an unknown region.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    wi: List[List[Dict[str, Any]]] = []
    if regions or pue is not None:
        for fp in footprints:
            wi.append(what_if(fp, list(regions) or [str(_doc(fp).get("region") or "world")], pue=pue))
    if fmt in ("table", "md"):
        return render_tables(report_tables(footprints, what_if_rows=wi, details=details), fmt)
    if fmt == "json":
        runs = []
        for fp in footprints:
            s = summarize(fp)
            s["components"] = [
                {k: c.get(k) for k in ("id", "kind", "name", "source", "measured", "energy_j", "mean_power_w", "peak_power_w")}
                for c in _doc(fp).get("components") or []
            ]
            runs.append(s)
        doc: Dict[str, Any] = {"schema": REPORT_SCHEMA_ID, "runs": runs}
        if wi:
            doc["what_if"] = [r for rows in wi for r in rows]
        return json.dumps(doc, indent=2, default=str) + "\n"
    buf = io.StringIO()
    fields = WHAT_IF_FIELDS if wi else SUMMARY_FIELDS
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in ([r for rows in wi for r in rows] if wi else [summarize(fp) for fp in footprints]):
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})
    return buf.getvalue()
