"""wattprint.report.summary."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional

from wattprint.footprint.model import Footprint

_KINDS = ("gpu", "cpu", "dram", "ram")

_FLAGGED = ("partial", "failed")

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


