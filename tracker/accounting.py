"""Footprint accounting (minimal first version; the factor tables come next).

Formulas (DESIGN.md), with IT energy ``E_it`` in kWh:
``E_fac = E_it × PUE``; ``C_op = E_fac × CI``; ``W_on = E_it × WUE``;
``W_off = E_fac × EWIF``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional

from .errors import ConfigError

__all__ = ["Factor", "Factors", "resolve_factors", "account"]

J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class Factor:
    value: float
    unit: str
    source: str
    year: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Factors:
    region: str
    pue: Factor
    carbon_intensity: Factor
    wue: Factor
    ewif: Factor

    def to_dict(self) -> Dict[str, Any]:
        return {
            "pue": self.pue.to_dict(),
            "carbon_intensity_g_per_kwh": self.carbon_intensity.to_dict(),
            "wue_l_per_kwh": self.wue.to_dict(),
            "ewif_l_per_kwh": self.ewif.to_dict(),
        }


def _positive(setting: str, value: Any, minimum: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(setting, f"must be a number >= {minimum}, got {value!r}") from None
    if not v >= minimum or v != v or v == float("inf"):
        raise ConfigError(setting, f"must be a finite number >= {minimum}, got {value!r}")
    return v


def resolve_factors(
    *,
    region: Optional[str] = None,
    pue: Optional[float] = None,
    wue_l_per_kwh: Optional[float] = None,
    ewif_l_per_kwh: Optional[float] = None,
    intensity_g_per_kwh: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Factors:
    env = os.environ if env is None else env
    region = region or env.get("WATTPRINT_REGION") or "world"
    if pue is None and env.get("WATTPRINT_PUE"):
        pue_f = Factor(_positive("WATTPRINT_PUE", env["WATTPRINT_PUE"], 1.0), "ratio", "WATTPRINT_PUE")
    elif pue is not None:
        pue_f = Factor(_positive("pue", pue, 1.0), "ratio", "user")
    else:
        pue_f = Factor(1.56, "ratio", "Uptime Institute Global Data Center Survey 2024 (average)", 2024)
    ci = (
        Factor(_positive("intensity_g_per_kwh", intensity_g_per_kwh, 0.0), "gCO2e/kWh", "user")
        if intensity_g_per_kwh is not None
        else Factor(458.0, "gCO2e/kWh", "Ember Global Electricity Review 2026 (world, 2025)", 2025)
    )
    wue = (
        Factor(_positive("wue_l_per_kwh", wue_l_per_kwh, 0.0), "L/kWh", "user")
        if wue_l_per_kwh is not None
        else Factor(1.8, "L/kWh", "Shehabi et al. 2016, LBNL (US data-centre average)", 2016)
    )
    ewif = (
        Factor(_positive("ewif_l_per_kwh", ewif_l_per_kwh, 0.0), "L/kWh", "user")
        if ewif_l_per_kwh is not None
        else Factor(3.142, "L/kWh", "Li et al. 2023 v5, U.S. average", 2023)
    )
    return Factors(region, pue_f, ci, wue, ewif)


def account(
    *,
    components: List[Dict[str, Any]],
    duration_s: float,
    work: Mapping[str, Any],
    factors: Factors,
    started_at: Any = None,
    timeline: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """The accounting sections of a footprint from its components' energy."""
    it_j = sum(c["energy_j"] for c in components)
    it_kwh = it_j / J_PER_KWH
    fac_kwh = it_kwh * factors.pue.value
    op_kg = fac_kwh * factors.carbon_intensity.value / 1000.0
    onsite_l = it_kwh * factors.wue.value
    offsite_l = fac_kwh * factors.ewif.value
    steps, samples, tokens = work.get("steps") or 0, work.get("samples") or 0, work.get("tokens") or 0
    flops = work.get("flops")
    return {
        "region": factors.region,
        "energy": {"it_j": it_j, "it_kwh": it_kwh, "facility_kwh": fac_kwh},
        "factors": factors.to_dict(),
        "carbon": {"operational_kg": op_kg, "embodied_kg": None, "total_kg": op_kg},
        "water": {"onsite_l": onsite_l, "offsite_l": offsite_l, "total_l": onsite_l + offsite_l},
        "work": {
            "steps": steps,
            "samples": samples,
            "tokens": tokens,
            "flops": flops,
            "j_per_step": it_j / steps if steps else None,
            "j_per_sample": it_j / samples if samples else None,
            "j_per_token": it_j / tokens if tokens else None,
            "mfu": None,
            "cci_g_per_eflop": (op_kg * 1000.0) / (flops / 1e18) if flops else None,
        },
        "bounds": {},
    }
