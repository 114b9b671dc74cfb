"""CUE and carbon by scope: the reporting-standard figures of a footprint's ``carbon`` section.

Units: kgCO2e, kWh, gCO2e/kWh. With IT energy ``E_it``, facility energy ``E_fac``, the
location-based operational carbon ``C_op`` (from :func:`wattprint.footprint.accounting.account`)
and the embodied carbon ``C_emb``:

- ``cue_kg_per_kwh = C_op / E_it`` (Carbon Usage Effectiveness, The Green Grid; ``= PUE × CI``);
- ``scope2_location_kg = C_op`` (GHG Protocol scope 2, location-based);
- ``scope2_market_kg = E_fac × (1 − renewable_share) × supplier factor`` when a supplier factor
  is given, else ``C_op × (1 − renewable_share)`` (the non-renewable share at the location-based
  intensity, no residual mix being known); present only when one of the two was given;
- ``scope3_embodied_kg = C_emb``.

Market-based inputs never change ``C_op``, ``total_kg`` or the location-based figure.

Failure modes: none; a run with no IT energy has ``cue_kg_per_kwh`` ``None``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from wattprint.footprint.factors import Factor, Factors

__all__ = ["market_factors", "scopes", "pair"]


def pair(lo: float, hi: float) -> List[float]:
    """``[low, high]`` in order."""
    return [min(lo, hi), max(lo, hi)]


def market_factors(factors: Factors) -> Dict[str, Any]:
    """The market-based inputs as the footprint's ``factors`` entries (none when not given)."""
    out: Dict[str, Any] = {}
    if factors.market_intensity_g_per_kwh is not None:
        v = factors.market_intensity_g_per_kwh
        out["market_intensity_g_per_kwh"] = Factor(v, "gCO2e/kWh", "supplier factor given by the user", None, v, v, "argument").to_dict()
    if factors.renewable_share is not None:
        v = factors.renewable_share
        out["renewable_share"] = Factor(v, "ratio", "contractual renewable share given by the user", None, v, v, "argument").to_dict()
    return out


def scopes(
    factors: Factors,
    op_kg: float,
    emb_kg: Optional[float],
    it_kwh: float,
    fac_kwh: float,
    fac_range: Tuple[float, float],
    ci_range: Tuple[float, float],
    op_range: Tuple[float, float],
    bounds: Dict[str, List[float]],
) -> Dict[str, Any]:
    """CUE and carbon by scope (see the module docstring); adds their bounds to ``bounds``."""
    pue_lo, pue_hi = factors.pue.range
    cue = op_kg / it_kwh if it_kwh > 0 else None
    out: Dict[str, Any] = {"cue_kg_per_kwh": cue, "scope2_location_kg": op_kg, "scope3_embodied_kg": emb_kg}
    if cue is not None:
        bounds["carbon.cue_kg_per_kwh"] = pair(pue_lo * ci_range[0] / 1000.0, pue_hi * ci_range[1] / 1000.0)
    bounds["carbon.scope2_location_kg"] = pair(*op_range)
    if emb_kg is not None and "carbon.embodied_kg" in bounds:
        bounds["carbon.scope3_embodied_kg"] = list(bounds["carbon.embodied_kg"])
    market, share = factors.market_intensity_g_per_kwh, factors.renewable_share
    if market is None and share is None:
        return out
    residual = 1.0 - (share or 0.0)
    if market is not None:
        mk_kg = fac_kwh * residual * market / 1000.0
        mk_lo, mk_hi = fac_range[0] * residual * market / 1000.0, fac_range[1] * residual * market / 1000.0
        basis = "supplier factor" + (" x (1 - renewable share)" if share is not None else "")
    else:  # the non-renewable share is priced at the location-based intensity (no residual mix given)
        mk_kg = op_kg * residual
        mk_lo, mk_hi = op_range[0] * residual, op_range[1] * residual
        basis = "location-based intensity x (1 - renewable share)"
    out["scope2_market_kg"] = mk_kg
    out["scope2_market_basis"] = basis
    bounds["carbon.scope2_market_kg"] = pair(mk_lo, mk_hi)
    return out
