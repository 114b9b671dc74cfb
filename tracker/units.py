"""Units, human formatting and UTC timestamps: the one place each conversion lives.

Constants: :data:`J_PER_KWH`, :data:`SECONDS_PER_YEAR`. Formatting (``format_energy``,
``format_carbon``, ``format_water``, ``format_power``, ``format_duration``, ``format_percent``,
``format_count``) takes base units (J, kgCO2e, L, W, s, a fraction, a plain count) and picks a
readable unit with three significant figures (:func:`sig_digits`); ``None`` prints as ``–``.
:func:`format_factor` prints a factor as given (``PUE 1.2``); :func:`kwh_to_j` converts.
:func:`column_unit` picks one unit for a whole table column. Timestamps: :func:`iso_utc` writes
ISO 8601 UTC with ``Z`` and milliseconds; :func:`parse_utc` reads any ISO 8601 text (a naive
one is taken as UTC) and returns ``None`` for anything else. :func:`as_float` reads a finite
number from a document value. This module imports nothing from wattprint: every layer uses it.

Failure modes: none raise for ``None`` or numbers; the formatters take numbers (or ``None``),
and a non-number raises ``TypeError``/``ValueError`` as ``float()`` would. ``parse_utc`` and
``as_float`` never raise: anything they cannot read is ``None``.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Dict, Iterable, List, Optional, Tuple

__all__ = [
    "J_PER_KWH", "SECONDS_PER_YEAR", "sig_digits", "unit_for", "column_unit",
    "format_energy", "format_carbon", "format_water", "format_power", "format_duration", "format_percent",
    "format_count", "format_factor", "kwh_to_j", "iso_utc", "parse_utc", "as_float",
]

J_PER_KWH = 3.6e6
"""Joules in one kilowatt-hour."""

SECONDS_PER_YEAR = 365.25 * 24 * 3600
"""Seconds in a Julian year (lifetimes for embodied-carbon amortisation)."""


def kwh_to_j(energy_kwh: Optional[float]) -> Optional[float]:
    """Kilowatt-hours to joules; ``None`` stays ``None``."""
    return None if energy_kwh is None else float(energy_kwh) * J_PER_KWH


def as_float(value: Any) -> Optional[float]:
    """A finite float from a number or numeric text; ``None`` for bools, ``None``, NaN, inf and anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def iso_utc(when: _dt.datetime) -> str:
    """ISO 8601 in UTC with a trailing ``Z`` and millisecond precision."""
    return when.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: Any) -> Optional[_dt.datetime]:
    """An aware UTC datetime from ISO 8601 text (``Z`` accepted; naive taken as UTC), else ``None``."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        when = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)


def sig_digits(x: float) -> str:
    """Three significant figures, never scientific notation for everyday sizes."""
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1e9 or not math.isfinite(a):  # only absurd sizes get this far in a readable unit: keep them short
        return f"{x:.3g}"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    if a >= 0.001:  # 0.123, 0.0123, 0.00123: three significant figures below one, too
        return f"{x:.{2 - math.floor(math.log10(a))}f}"
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


def unit_for(quantity: str, magnitude: float) -> Tuple[str, float]:
    """``(unit name, unit size in base units)`` that reads best for ``magnitude`` of ``quantity``
    (``"energy_j"``, ``"carbon_kg"``, ``"water_l"``, ``"power_w"``). Raises ``KeyError`` for another quantity."""
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
    name, size = unit or unit_for(quantity, value)
    return f"{sig_digits(value / size)} {name}{suffix}"


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
    """Watts in a readable unit (W, kW, MW)."""
    return _fmt("power_w", power_w)


def format_duration(duration_s: Optional[float]) -> str:
    """Seconds as ``12.3 s``, ``4 min 05 s``, ``2 h 07 min``, ``3 d 04 h`` (``1.2e+05 years`` past a millennium)."""
    if duration_s is None:
        return "–"
    s = float(duration_s)
    if not math.isfinite(s):
        return "–"
    if s >= 1000 * 365.25 * 86400:  # beyond a thousand years: years, three figures
        return f"{s / (365.25 * 86400):.3g} years"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    if s < 86400:
        return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"
    return f"{int(s // 86400)} d {int(s % 86400 // 3600):02d} h"


def format_percent(x: Optional[float], signed: bool = False) -> str:
    """A fraction as a whole percentage (``0.25`` is ``25%``; ``+25%`` when ``signed``)."""
    if x is None:
        return "–"
    return f"{x * 100:+.0f}%" if signed else f"{x * 100:.0f}%"


def format_count(x: Optional[float], unit: str = "") -> str:
    """A count or rate: three significant figures, ``e`` notation from a million up
    (``3.79e+25 FLOP``, ``16,384``, ``0.25``), then ``unit`` after a space when given."""
    if x is None:
        return "–"
    v = float(x)
    text = f"{v:.3g}" if abs(v) >= 1e6 else sig_digits(v)
    return f"{text} {unit}" if unit else text


def format_factor(value: Any) -> str:
    """A factor (PUE, gCO2e/kWh, L/kWh) as given, in its shortest form: ``1.2``, ``300``, ``312.57``;
    ``–`` when it is not a number."""
    v = as_float(value)
    return "–" if v is None else f"{v:g}"


def column_unit(quantity: str, values: Iterable[Optional[float]]) -> Tuple[str, float]:
    """One unit for a table column: the one :func:`unit_for` picks for its largest known value."""
    vals = [abs(v) for v in values if v is not None]
    return unit_for(quantity, max(vals) if vals else 0.0)
