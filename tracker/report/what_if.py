"""wattprint.report.what_if."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from wattprint.footprint.model import Footprint
from wattprint.report.summary import _doc, summarize
from wattprint.units import parse_utc

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
            started_at=parse_utc(d.get("started_at")),
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


