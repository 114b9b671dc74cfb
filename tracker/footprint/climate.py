"""On-site WUE estimated from a location's climate, where no published figure exists.

Units: temperatures in degC (the tower model works in degF internally), relative
humidity in %, WUE in L per kWh of IT (server) energy.

The model, step by step (``docs/planning.md`` lists the sources):

1. wet-bulb temperature from the annual mean dry-bulb temperature and relative
   humidity of the location's site (``data/climate.csv``), by Stull (2011),
   "Wet-Bulb Temperature from Relative Humidity and Air Temperature", J. Appl.
   Meteor. Climatol. 50, 2267-2269 (valid about -20..50 degC, 5..99 % RH);
2. the evaporative water of a cooling tower at that wet-bulb temperature, the
   model Li, Yang, Islam and Ren use for on-site WUE ("Making AI Less Thirsty",
   arXiv 2304.03271; code github.com/Ren-Research/Making-AI-Less-Thirsty,
   ``utils/dataloader.py`` ``load_direct_WUE``, MIT):
   ``WUE = c/(c-1) x (6e-5 Tw^3 - 0.01 Tw^2 + 0.61 Tw - 10.4)``, Tw in degF,
   c = 6 cycles of concentration, never below 0.05 L/kWh;
3. a fleet calibration ``k``: not every data centre evaporates all its heat, so
   the tower figure is scaled so that the US data-centre climate gives the
   LBNL US average on-site WUE, 1.8 L/kWh (Shehabi et al. 2016), the figure
   the source report cites (k is about 0.6).

Bounds are wide on purpose: low 0 (an air-cooled or closed-loop facility uses
no cooling water), high the uncalibrated tower at a wet-bulb 3 degC warmer (all
heat rejected by evaporation in a warm year). The annual mean stands in for
the hourly series the model was built for (checked: over a seasonal cycle the
mean differs by under 15 % for the bundled sites).

Failure modes: a location without a climate row gives ``None`` (the caller falls
back); a broken table raises ``ValueError`` on first use.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Dict, Optional

from wattprint.footprint.regions import UNITS, Factor, Region, _chain, _tables, row_factor
from wattprint.footprint.tables import read_data_csv

__all__ = [
    "ClimateWue",
    "wet_bulb_c",
    "tower_wue_l_per_kwh",
    "climate_wue",
    "site_wue",
    "CLIMATE_SOURCE",
    "CALIBRATION_WUE_L_PER_KWH",
]

CYCLES_OF_CONCENTRATION = 6.0  # Li et al. code default
MIN_WUE_L_PER_KWH = 0.05  # Li et al.: some water for humidity control even when cold
CALIBRATION_WUE_L_PER_KWH = 1.8  # Shehabi et al. 2016 (LBNL), US average on-site WUE
CALIBRATION_REGION = "US"
HIGH_WARMING_C = 3.0
CLIMATE_SOURCE = (
    "climate model: wet-bulb (Stull 2011) from the site's annual mean temperature and humidity (data/climate.csv), "
    "cooling-tower WUE of Li et al. 2023 (Ren-Research/Making-AI-Less-Thirsty, MIT), scaled to LBNL's US average 1.8 L/kWh"
)


def wet_bulb_c(t_c: float, rh_pct: float) -> float:
    """Wet-bulb temperature (degC) at sea-level pressure, Stull (2011) eq. 1."""
    rh = min(max(rh_pct, 5.0), 99.0)
    return (
        t_c * math.atan(0.151977 * math.sqrt(rh + 8.313659))
        + math.atan(t_c + rh)
        - math.atan(rh - 1.676331)
        + 0.00391838 * rh**1.5 * math.atan(0.023101 * rh)
        - 4.686035
    )


def tower_wue_l_per_kwh(wet_bulb: float) -> float:
    """Cooling-tower evaporation per IT kWh at a wet-bulb temperature (degC), Li et al.'s model."""
    tw_f = wet_bulb * 9.0 / 5.0 + 32.0
    c = CYCLES_OF_CONCENTRATION
    wue = c / (c - 1.0) * (6e-5 * tw_f**3 - 0.01 * tw_f**2 + 0.61 * tw_f - 10.4)
    return max(MIN_WUE_L_PER_KWH, wue)


@dataclass(frozen=True)
class ClimateWue:
    """A climate-model on-site WUE: ``value`` (L/kWh) with its ``low``/``high`` and how it was made."""

    region: str
    site: str
    value: float
    low: float
    high: float
    wet_bulb_c: float
    note: str


@functools.lru_cache(maxsize=1)
def _climate() -> Dict[str, Dict[str, str]]:
    return {r["region"]: r for r in read_data_csv("climate.csv")}


@functools.lru_cache(maxsize=1)
def _calibration() -> float:
    row = _climate()[CALIBRATION_REGION]
    return CALIBRATION_WUE_L_PER_KWH / tower_wue_l_per_kwh(wet_bulb_c(float(row["t_mean_c"]), float(row["rh_mean_pct"])))


def climate_wue(code: str) -> Optional[ClimateWue]:
    """The climate-model WUE of a region code with a row in ``data/climate.csv``, else ``None``."""
    row = _climate().get(code)
    if row is None:
        return None
    t_c, rh = float(row["t_mean_c"]), float(row["rh_mean_pct"])
    tw = wet_bulb_c(t_c, rh)
    k = _calibration()
    value = round(k * tower_wue_l_per_kwh(tw), 2)  # an estimate: two decimals
    high = round(max(value, tower_wue_l_per_kwh(tw + HIGH_WARMING_C)), 2)
    note = (
        f"estimated from climate, not published: {row['site']}, annual mean {t_c:g} degC / {rh:g} % RH, "
        f"wet-bulb {tw:.1f} degC; cooling-tower model x {k:.2f} (fleet calibration); wide bounds: 0 (air-cooled) to {high:.2f}"
    )
    return ClimateWue(code, row["site"], value, 0.0, high, tw, note)


def site_wue(region: Region) -> Optional[Factor]:
    """On-site WUE of a place, most specific code first (the region, its location, ``US``): the Li et al.
    2023 row located there (``US-AZ`` -> ``li2023:arizona``), else the climate model for that code."""
    li_by_location = {r["location"]: code for code, r in _tables().li.items()}
    for code in _chain(region):
        if code == "world":
            break
        li_code = li_by_location.get(code)
        if li_code is not None:
            r = _tables().li[li_code]
            where = "" if code == region.code else f", location of {region.code}"
            note = f"Li et al. 2023 v5 Table 1 row {li_code} (published per-location WUE{where})"
            return row_factor("wue", {**r, "value": r["wue_l_per_kwh"]}, "value", "low", "high", f"region:{li_code}", note)
        cw = climate_wue(code)
        if cw is not None:
            note = cw.note if code == region.code else f"{cw.note} (location of {region.code})"
            return Factor(cw.value, UNITS["wue"], CLIMATE_SOURCE, None, cw.low, cw.high, f"climate-model:{code}", "derived (see sources)", note)
    return None
