"""What if the run had run elsewhere: re-price its measured energy with other regions' factors.

:func:`what_if` keeps the run's measured components, duration and work and
accounts them again (:func:`wattprint.footprint.accounting.account`) with the
bundled factors of each region, and a PUE when given (else the run's own PUE
when its user set it). The first row is the
run as recorded; every row has the keys :data:`WHAT_IF_FIELDS`.

Units are in the keys: kWh (``energy_*_kwh``), kgCO2e (``carbon_*_kg``), litres
(``water_*_l``), gCO2e/kWh and L/kWh for the factors; ``*_vs_recorded_rel`` is
a fraction (0.5 = 50 % more than the recorded run).

Failure modes: an unknown region or a PUE below 1 raises
:class:`~wattprint.errors.ConfigError` (from
:func:`~wattprint.footprint.accounting.resolve_factors`). A figure missing in
the recorded run is ``None`` in its row, and so are its differences.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from wattprint.footprint.accounting import account, resolve_factors
from wattprint.footprint.model import Footprint
from wattprint.report.load import document_of
from wattprint.report.summary import summarize
from wattprint.units import format_factor, parse_utc

__all__ = ["WHAT_IF_FIELDS", "what_if", "relative_change"]

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


def relative_change(new: Optional[float], old: Optional[float]) -> Optional[float]:
    """``new / old - 1`` (0.5 = 50 % more); ``None`` when either is unknown or ``old`` is 0."""
    if new is None or old is None or old == 0:
        return None
    return new / old - 1.0


def _diff(new: Optional[float], old: Optional[float]) -> Optional[float]:
    return None if new is None or old is None else new - old


def _own_pue(d: Dict[str, Any]) -> Optional[float]:
    """The run's PUE when its user set it (argument or environment), else ``None`` (each region's own figure)."""
    f = (d.get("factors") or {}).get("pue") or {}
    origin = str(f.get("origin") or "")
    value = f.get("value")
    if (origin == "argument" or origin.startswith("env:")) and isinstance(value, (int, float)):
        return float(value)
    return None


def what_if(fp: Any, regions: Sequence[str], *, pue: Optional[float] = None) -> List[Dict[str, Any]]:
    """Re-price the run's measured energy for other regions (keys :data:`WHAT_IF_FIELDS`).

    The first row is the run as recorded; each region follows, priced with
    that region's bundled factors (``WATTPRINT_*`` variables are ignored so
    the comparison is reproducible) and ``pue`` when given; without it, a PUE the
    run's user set (argument or environment) is kept, so the run's own region
    compares at +0 %, and otherwise each region's bundled PUE applies. Differences are
    against the recorded run: ``*_vs_recorded_rel`` is a fraction (0.5 = 50 % more).
    Embodied carbon does not depend on the region and is carried over.

    Raises:
        ConfigError: an unknown region or a PUE below 1.
    """
    d = document_of(fp)
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
    scenario_pue = pue if pue is not None else _own_pue(d)
    for region in regions:
        factors = resolve_factors(region=region, pue=scenario_pue, env={})
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
            scenario=str(region) + (f" (PUE {format_factor(pue)})" if pue is not None else ""),
            region=acc.get("region", factors.region),
            recorded=False,
            carbon_embodied_kg=embodied,
            carbon_total_kg=total,
            intensity_source=factors.carbon_intensity.source,
        )
        rows.append(row)
    for row in rows:
        row["carbon_vs_recorded_kg"] = _diff(row.get("carbon_total_kg"), base["carbon_total_kg"])
        row["carbon_vs_recorded_rel"] = relative_change(row.get("carbon_total_kg"), base["carbon_total_kg"])
        row["water_vs_recorded_l"] = _diff(row.get("water_total_l"), base["water_total_l"])
        row["water_vs_recorded_rel"] = relative_change(row.get("water_total_l"), base["water_total_l"])
    return [{k: r.get(k) for k in WHAT_IF_FIELDS} for r in rows]


