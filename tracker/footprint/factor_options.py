"""Planner factor options: the grid basis, water withdrawal, and whether PUE multiplies on-site water.

Units: gCO2e/kWh for intensities, L/kWh for water factors.

- ``grid_basis``: ``"lifecycle"`` (generation plus upstream fuel supply, plant construction:
  Ember, OWID, Electricity Maps' default) or ``"direct"`` (stack emissions at the plant: EPA
  eGRID, Google's region figures). Default ``None``: every bundled row is used on the basis
  it was published on (Ember/OWID countries lifecycle, eGRID US states direct), and the
  factor's ``basis`` says which. A row on the other basis is converted by the upstream
  share: ``lifecycle = direct + U`` with U the mean (lifecycle - direct) of the Electricity
  Maps 2024 yearly zone averages (``docs/planning.md``): 62 gCO2e/kWh (30-82) for US zones,
  57 (15-118) elsewhere; the range widens the bounds. A user-given intensity is never converted.
- ``grid_year``: price with the grid figure of that year (an older run priced with its own
  year) where ``data/grid_history.csv`` has it for the region's row; otherwise the current row
  is kept and its note says so. The factor's ``year`` records the year used.
- ``withdrawal``: ``True`` for the bundled factors, or ``(onsite, offsite)`` L/kWh. On-site
  withdrawal = on-site consumption / 0.8 (cooling towers consume about 80 % of what they
  withdraw, 70-90 %: Li et al. 2023, citing Meta); off-site: 43.8 L/kWh for US electricity
  (Li et al. 2023 citing Reig et al. 2020, WRI), elsewhere the location's EWIF times the US
  withdrawal/consumption ratio (43.8/3.142), marked as an estimate.
- ``pue_on_wue``: ``True`` multiplies the on-site WUE by PUE (the convention of Morrison et
  al. 2025 and some tools); default ``False``, as The Green Grid defines WUE (per IT kWh) and
  Li et al. apply it.

Failure modes: a bad value raises :class:`~wattprint.errors.ConfigError` naming the setting.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from wattprint.errors import ConfigError
from wattprint.footprint.regions import UNITS, Factor, Region, _chain, row_factor
from wattprint.footprint.tables import read_data_csv
from wattprint.settings import setting_bool, setting_float

__all__ = ["GRID_BASES", "UPSTREAM_G_PER_KWH", "planner_options", "convert_basis", "price_year", "withdrawal_factors", "withdrawal_figures"]

GRID_BASES = ("lifecycle", "direct")
# (central, low, high) lifecycle - direct, gCO2e/kWh: Electricity Maps 2024 yearly zone averages (references/factors.md §1.4)
UPSTREAM_G_PER_KWH = {"US": (62.0, 30.0, 82.0), "other": (57.0, 15.0, 118.0)}
CONSUMED_SHARE_OF_WITHDRAWAL = (0.8, 0.7, 0.9)  # Li et al. 2023: cooling towers consume ~80 % of withdrawal
US_OFFSITE_WITHDRAWAL_L_PER_KWH = 43.8  # Li et al. 2023 (Reig et al. 2020, WRI): US electricity withdrawal
US_OFFSITE_CONSUMPTION_L_PER_KWH = 3.142  # Li et al. 2023 v5 Table 1, US average EWIF
_WITHDRAWAL_SOURCE = "Li et al. 2023 (arXiv 2304.03271 v5), citing Reig et al. 2020 (WRI): US electricity withdraws 43.8 L/kWh"


def _option(name: str, options: Mapping[str, Any], env: Mapping[str, str]) -> Tuple[Any, str]:
    if options.get(name) is not None:
        return options[name], name
    var = "WATTPRINT_" + name.upper()
    raw = env.get(var)
    return (raw.strip() if isinstance(raw, str) and raw.strip() else None), var


def _is_us(region: Region) -> bool:
    return "US" in _chain(region)


def convert_basis(ci: Factor, basis: Optional[str], region: Region) -> Factor:
    """The grid intensity on the requested basis (``None``: as published)."""
    if basis is None or ci.origin in ("argument",) or ci.origin.startswith("env:") or ci.basis == basis:
        return ci
    if ci.basis not in GRID_BASES:
        return replace(ci, note=f"published {ci.basis}; no {basis} figure to convert to")
    up, up_lo, up_hi = UPSTREAM_G_PER_KWH["US" if _is_us(region) else "other"]
    lo, hi = ci.range
    if basis == "lifecycle":
        value, low, high = ci.value + up, lo + up_lo, hi + up_hi
    else:
        value, low, high = max(0.0, ci.value - up), max(0.0, lo - up_hi), max(0.0, hi - up_lo)
    note = (f"{ci.basis} {ci.value:g} gCO2e/kWh converted to {basis}: {'+' if basis == 'lifecycle' else '-'}{up:g} "
            f"(upstream share, Electricity Maps 2024 zone averages; range {up_lo:g}-{up_hi:g})")
    return replace(ci, value=value, low=low, high=high, basis=basis, note=note)


@functools.lru_cache(maxsize=1)
def _history() -> Dict[Tuple[str, int], Dict[str, str]]:
    return {(r["region"], int(r["year"])): r for r in read_data_csv("grid_history.csv")}


def price_year(ci: Factor, year: Optional[int], region: Region) -> Factor:
    """The grid intensity of ``year`` for the row in use, where the history has it (else ``ci``, with a note)."""
    if year is None or ci.year == year or ci.origin in ("argument", "live") or ci.origin.startswith("env:"):
        return ci
    code = ci.origin.split(":", 1)[1] if ci.origin.startswith("region:") else "world"
    row = _history().get((code, year))
    if row is None:
        return replace(ci, note=f"no {year} grid figure bundled for {code}; the {ci.year} figure is used")
    return row_factor("carbon_intensity", row, "intensity_g_per_kwh", "low", "high", ci.origin, f"priced with the {year} figure (grid_year)")


def withdrawal_factors(value: Any, setting: str, wue: Factor, ewif: Factor, region: Region) -> Tuple[Optional[Factor], Optional[Factor]]:
    """(on-site, off-site) withdrawal factors, L/kWh; ``(None, None)`` when not asked for."""
    if value is None or value is False:
        return None, None
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return None, None
    if value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "bundled")):
        return _bundled_withdrawal(wue, ewif, region)
    pair: Sequence[Any] = value.split(",") if isinstance(value, str) else value
    try:
        on, off = (float(x) for x in pair)
    except (TypeError, ValueError):
        raise ConfigError(setting, f"must be true (bundled factors) or 'ONSITE,OFFSITE' in L/kWh, got {value!r}") from None
    if not all(math.isfinite(x) and x >= 0 for x in (on, off)):
        raise ConfigError(setting, f"withdrawal factors must be finite numbers >= 0, got {value!r}")
    src = f"argument {setting}" if setting == "withdrawal" else f"environment variable {setting}"
    return (Factor(on, UNITS["wue"], src, None, on, on, "argument"), Factor(off, UNITS["ewif"], src, None, off, off, "argument"))


def _bundled_withdrawal(wue: Factor, ewif: Factor, region: Region) -> Tuple[Factor, Factor]:
    share, s_lo, s_hi = CONSUMED_SHARE_OF_WITHDRAWAL
    w_lo, w_hi = wue.range
    onsite = Factor(
        wue.value / share, UNITS["wue"], f"on-site consumption / {share:g} ({_WITHDRAWAL_SOURCE.split(',')[0]}: towers consume ~80 % of withdrawal)",
        wue.year, w_lo / s_hi, w_hi / s_lo, wue.origin, None, f"from on-site WUE {wue.value:g} L/kWh ({wue.origin})",
    )
    if _is_us(region):
        v = US_OFFSITE_WITHDRAWAL_L_PER_KWH
        offsite = Factor(v, UNITS["ewif"], _WITHDRAWAL_SOURCE, 2020, v * 0.7, v * 1.3, "region:US", None, "US average electricity withdrawal")
    else:
        ratio = US_OFFSITE_WITHDRAWAL_L_PER_KWH / US_OFFSITE_CONSUMPTION_L_PER_KWH
        e_lo, e_hi = ewif.range
        offsite = Factor(
            ewif.value * ratio, UNITS["ewif"], f"{_WITHDRAWAL_SOURCE}; ratio to consumption applied to this location's EWIF",
            ewif.year, e_lo * ratio * 0.5, e_hi * ratio * 1.5, ewif.origin, None,
            f"estimated: EWIF {ewif.value:g} L/kWh x {ratio:.1f} (US withdrawal/consumption); no local withdrawal figure bundled",
        )
    return onsite, offsite


def planner_options(opts: Mapping[str, Any], env: Mapping[str, str], region: Region, ci: Factor, wue: Factor, ewif: Factor) -> Dict[str, Any]:
    """``grid_basis`` (and the converted ``carbon_intensity``), ``pue_on_wue`` and the withdrawal factors, for :class:`Factors`."""
    raw, setting = _option("grid_basis", opts, env)
    basis = None
    if raw is not None:
        basis = str(raw).strip().lower() if isinstance(raw, str) else None
        if basis not in GRID_BASES:
            raise ConfigError(setting, f"must be one of {', '.join(GRID_BASES)} (default: each row as published), got {raw!r}")
    year_v = setting_float("grid_year", opts.get("grid_year"), env, None, minimum=1990.0, inclusive=True)
    if year_v is not None and (year_v != int(year_v) or year_v > 2100):
        raise ConfigError("grid_year" if opts.get("grid_year") is not None else "WATTPRINT_GRID_YEAR", f"must be a year such as 2023, got {year_v!r}")
    ci = price_year(ci, int(year_v) if year_v is not None else None, region)
    w_raw, w_setting = _option("withdrawal", opts, env)
    on, off = withdrawal_factors(w_raw, w_setting, wue, ewif, region)
    return {
        "carbon_intensity": convert_basis(ci, basis, region),
        "grid_basis": basis or "as published",
        "pue_on_wue": setting_bool("pue_on_wue", opts.get("pue_on_wue"), env, False),
        "withdrawal_onsite": on,
        "withdrawal_offsite": off,
    }


def withdrawal_figures(
    factors: Any, onsite_kwh: Tuple[float, float, float], facility_kwh: Tuple[float, float, float], bounds: Dict[str, Any]
) -> Dict[str, float]:
    """``water.withdrawal_{onsite,offsite,total}_l`` from the energy each applies to, ``(value, low, high)`` kWh
    (on-site: IT energy, times PUE under ``pue_on_wue``; off-site: facility energy); adds their bounds."""
    on_f, off_f = factors.withdrawal_onsite, factors.withdrawal_offsite
    (on_lo_f, on_hi_f), (off_lo_f, off_hi_f) = on_f.range, off_f.range
    on = onsite_kwh[0] * on_f.value
    off = facility_kwh[0] * off_f.value
    lo = (onsite_kwh[1] * on_lo_f, facility_kwh[1] * off_lo_f)
    hi = (onsite_kwh[2] * on_hi_f, facility_kwh[2] * off_hi_f)
    bounds["water.withdrawal_onsite_l"] = [lo[0], hi[0]]
    bounds["water.withdrawal_offsite_l"] = [lo[1], hi[1]]
    bounds["water.withdrawal_total_l"] = [lo[0] + lo[1], hi[0] + hi[1]]
    return {"withdrawal_onsite_l": on, "withdrawal_offsite_l": off, "withdrawal_total_l": on + off}
