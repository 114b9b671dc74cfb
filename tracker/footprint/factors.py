"""Footprint factors: PUE, grid carbon intensity, on-site WUE and off-site EWIF.

Every value is a :class:`Factor` carrying its unit, source, year, licence and a
low/high range (used for the footprint's bounds). :func:`resolve_factors`
picks each one by precedence:

1. the explicit argument (``pue=1.1``; ``pue="provider:google"`` names a row of
   the bundled PUE table);
2. the ``WATTPRINT_*`` environment variable (``WATTPRINT_PUE``,
   ``WATTPRINT_INTENSITY_G_PER_KWH``, ``WATTPRINT_WUE_L_PER_KWH``,
   ``WATTPRINT_EWIF_L_PER_KWH``);
3. the region's bundled value (``region=`` or ``WATTPRINT_REGION``; see
   :mod:`wattprint.footprint.regions` for the codes and the lookup order);
4. the documented global default (region ``world``: Ember's world average
   intensity, Uptime's average PUE, LBNL's average WUE, WRI's world EWIF).

:func:`resolve_factors` is a pure resolver: nothing here touches the network or
starts a thread. A tracked run's live grid intensity (opt-in) is attached by
:func:`wattprint.run.grid_live.resolve_run_factors`, which sets
:attr:`Factors.live`; :meth:`Factors.live_readings` takes one snapshot of it
for :func:`~wattprint.footprint.accounting.account`.

Failure modes: a bad value or an unknown region raises
:class:`~wattprint.errors.ConfigError` naming the setting (or the variable) and
what is allowed; an unknown region suggests close matches.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Mapping, Optional, Tuple

from wattprint.errors import ConfigError
from wattprint.footprint.regions import (
    DEFAULT_REL_RANGE,
    LIVE_REL_RANGE,
    UNITS,
    Factor,
    Region,
    _tables,
    list_regions,
    normalize_region,
    pue_table,
    region_factor,
    resolve_region,
    row_factor,
)
from wattprint.footprint.factor_options import planner_options
from wattprint.settings import setting_bool, setting_float

__all__ = [
    "Factor",
    "Factors",
    "LiveReadings",
    "Region",
    "resolve_factors",
    "resolve_region",
    "normalize_region",
    "list_regions",
    "pue_table",
    "accounting_option",
    "ACCOUNTING_OPTIONS",
    "WATER_SOURCES",
    "TASK_STAGES",
    "DEFAULT_REL_RANGE",
    "LIVE_REL_RANGE",
]

ACCOUNTING_OPTIONS = (
    "grid",
    "grid_zone",
    "grid_token",
    "grid_url",
    "grid_timeout_s",
    "grid_refresh_s",
    "grid_stop_wait_s",
    "grid_session",
    "lifetime_years",
    "embodied",
    "model_params",
    "market_intensity_g_per_kwh",
    "renewable_share",
    "water_source",
    "task_stage",
    "grid_basis",
    "grid_year",
    "pue_on_wue",
    "withdrawal",
)
#: ``water_source`` values (the water's origin, shown next to WUE) and ``task_stage`` values (reporting standards).
WATER_SOURCES = ("potable", "non-potable", "recycled", "unknown")
TASK_STAGES = ("training", "fine-tuning", "inference", "development")

Reading = Tuple[_dt.datetime, float]


@dataclass(frozen=True)
class LiveReadings:
    """One snapshot of a live grid: its ``grid`` status section and its readings
    ``(aware UTC time, gCO2e/kWh)``, oldest first (empty: no reading yet)."""

    status: Mapping[str, Any]
    readings: Tuple[Reading, ...] = ()


@dataclass
class Factors:
    """The resolved factors of a run (see :func:`resolve_factors`).

    ``live`` is the run's live grid fetcher (set by
    :func:`wattprint.run.grid_live.resolve_run_factors`), or ``None``;
    ``start()``/``stop()`` run it, return quickly and never raise.
    """

    region: str
    pue: Factor
    carbon_intensity: Factor
    wue: Factor
    ewif: Factor
    region_name: str = ""
    lifetime_years: Optional[float] = None
    embodied: bool = True
    model_params: Optional[float] = None
    market_intensity_g_per_kwh: Optional[float] = None  # supplier factor: market-based scope 2 only
    renewable_share: Optional[float] = None  # contractual renewable share, 0-1: market-based scope 2 only
    water_source: str = "unknown"  # one of WATER_SOURCES
    task_stage: Optional[str] = None  # one of TASK_STAGES, or None when not given
    grid_basis: str = "as published"  # "lifecycle", "direct" or "as published" (see factor_options)
    pue_on_wue: bool = False  # multiply on-site WUE by PUE (off: The Green Grid's definition)
    withdrawal_onsite: Optional[Factor] = None  # L/kWh of IT energy; None: withdrawal not reported
    withdrawal_offsite: Optional[Factor] = None  # L/kWh of facility energy
    live: Any = field(default=None, repr=False)  # a wattprint.run.grid_live.LiveGrid, or None
    stop_wait_s: float = 1.0

    def to_dict(self) -> Dict[str, Any]:
        return {
            "pue": self.pue.to_dict(),
            "carbon_intensity_g_per_kwh": self.carbon_intensity.to_dict(),
            "wue_l_per_kwh": self.wue.to_dict(),
            "ewif_l_per_kwh": self.ewif.to_dict(),
            **self._planner_dict(),
        }

    def _planner_dict(self) -> Dict[str, Any]:
        """Grid basis, PUE-on-WUE convention and withdrawal factors (issue 15), only where they say something."""
        out: Dict[str, Any] = {"grid_basis": self.grid_basis}
        if self.pue_on_wue:
            out["pue_on_wue"] = True
        if self.withdrawal_onsite is not None and self.withdrawal_offsite is not None:
            out["withdrawal_onsite_l_per_kwh"] = self.withdrawal_onsite.to_dict()
            out["withdrawal_offsite_l_per_kwh"] = self.withdrawal_offsite.to_dict()
        return out

    # -- live grid hooks (called by the Tracker) ---------------------------
    def start(self) -> None:
        if self.live is not None:
            self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop(wait_s=self.stop_wait_s)

    def live_readings(self) -> Optional[LiveReadings]:
        """A snapshot of the live grid (status, then readings), or ``None`` without one."""
        if self.live is None:
            return None
        status = dict(self.live.status())
        return LiveReadings(status, tuple(self.live.readings()))

    def wait_live(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the first live fetch to finish (tests, short scripts)."""
        return bool(self.live.wait_ready(timeout_s)) if self.live is not None else False


# -- settings ------------------------------------------------------------------


def accounting_option(name: str, options: Mapping[str, Any], env: Mapping[str, str]) -> Tuple[Any, str]:
    """An accounting option from the keyword, else ``WATTPRINT_<NAME>`` (stripped; blank is unset):
    ``(value or None, the setting's name for errors)``."""
    if options.get(name) is not None:
        return options[name], name
    var = "WATTPRINT_" + name.upper()
    raw = env.get(var)
    return (raw.strip() if isinstance(raw, str) and raw.strip() else None), var


def _explicit(kind: str, name: str, value: Any, env: Mapping[str, str], minimum: float) -> Optional[Factor]:
    """A factor from the argument, else from ``WATTPRINT_<NAME>``; ``None`` when neither is set.

    A PUE may also name a row of the bundled PUE table. Raises ``ConfigError``.
    """
    value, setting = accounting_option(name, {name: value}, env)
    if value is None:
        return None
    origin = "argument" if setting == name else f"env:{setting}"
    if kind == "pue" and isinstance(value, str):
        key = value.strip()
        table = _tables().pue
        if key in table or key.lower() in table:
            row = table.get(key) or table[key.lower()]
            return replace(row_factor("pue", row, "pue", "low", "high", origin), note=f"PUE table row {key.lower()!r}")
    if isinstance(value, bool):
        raise ConfigError(setting, f"must be a number >= {minimum:g}, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        extra = f" or a PUE table key ({', '.join(sorted(_tables().pue))})" if kind == "pue" else ""
        raise ConfigError(setting, f"must be a number >= {minimum:g}{extra}, got {value!r}") from None
    if math.isnan(v) or math.isinf(v) or v < minimum:
        raise ConfigError(setting, f"must be a finite number >= {minimum:g}, got {value!r}")
    source = f"argument {name}" if origin == "argument" else f"environment variable {setting}"
    return Factor(v, UNITS[kind], source, None, v, v, origin)


def _factor(kind: str, name: str, value: Any, env: Mapping[str, str], minimum: float, region: Region) -> Factor:
    return _explicit(kind, name, value, env, minimum) or region_factor(kind, region)


def resolve_factors(
    *,
    region: Optional[str] = None,
    pue: Optional[Any] = None,
    wue_l_per_kwh: Optional[float] = None,
    ewif_l_per_kwh: Optional[float] = None,
    intensity_g_per_kwh: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
    **accounting_options: Any,
) -> Factors:
    """Resolve every factor (argument, then ``WATTPRINT_*``, then region, then default).

    Accounting options (keywords or ``WATTPRINT_<NAME>`` variables):
        lifetime_years: hardware amortisation lifetime overriding the table (years, > 0).
        embodied: include embodied carbon (default ``True``).
        model_params: parameter count N; FLOPs are then ``6 * N * tokens`` when none are counted.
        market_intensity_g_per_kwh, renewable_share: a supplier factor (gCO2e/kWh, >= 0) and a
            contractual renewable share (0-1) for the market-based scope 2 figure only.
        water_source: ``potable``, ``non-potable``, ``recycled`` or ``unknown`` (default).
        task_stage: ``training``, ``fine-tuning``, ``inference`` or ``development``.
        grid_basis: ``lifecycle`` or ``direct`` grid intensity (default: each row as published; recorded).
        grid_year: price with that year's grid figure where ``data/grid_history.csv`` has it (older runs).
        pue_on_wue: multiply on-site WUE by PUE (default ``False``, The Green Grid's definition).
        withdrawal: ``True`` (bundled factors) or ``(onsite, offsite)`` L/kWh: report water withdrawal too.
        grid, grid_zone, grid_token, grid_url, grid_timeout_s, grid_refresh_s,
        grid_stop_wait_s, grid_session: the live grid of a tracked run, read by
        :func:`wattprint.run.grid_live.resolve_run_factors`; here only ``grid="ukci"``
        matters (it implies region ``GB``). The result's ``live`` is always ``None``.

    Raises:
        ConfigError: a value out of range, an unknown region or option. Never touches the network.
    """
    env = os.environ if env is None else env
    unknown = sorted(set(accounting_options) - set(ACCOUNTING_OPTIONS))
    if unknown:
        raise ConfigError("accounting_options", f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(ACCOUNTING_OPTIONS)}")
    setting = "region"
    if region is None and env.get("WATTPRINT_REGION", "").strip():
        region, setting = env["WATTPRINT_REGION"], "WATTPRINT_REGION"
    grid_provider, _ = accounting_option("grid", accounting_options, env)
    if region is None and isinstance(grid_provider, str) and grid_provider.strip().lower() == "ukci":
        region = "GB"  # the UK API covers Great Britain; its bundled fallback is the UK figure
    reg = resolve_region(region, setting)
    opts = accounting_options
    wue = _factor("wue", "wue_l_per_kwh", wue_l_per_kwh, env, 0.0, reg)
    ewif = _factor("ewif", "ewif_l_per_kwh", ewif_l_per_kwh, env, 0.0, reg)
    ci = _factor("carbon_intensity", "intensity_g_per_kwh", intensity_g_per_kwh, env, 0.0, reg)
    return Factors(
        region=reg.code,
        pue=_factor("pue", "pue", pue, env, 1.0, reg),
        wue=wue,
        ewif=ewif,
        **planner_options(opts, env, reg, ci, wue, ewif),
        region_name=reg.name,
        lifetime_years=setting_float("lifetime_years", opts.get("lifetime_years"), env, None, minimum=0.0, inclusive=False),
        embodied=setting_bool("embodied", opts.get("embodied"), env, True),
        model_params=setting_float("model_params", opts.get("model_params"), env, None, minimum=0.0, inclusive=False),
        **_reporting_options(opts, env),
    )


def _choice(name: str, options: Mapping[str, Any], env: Mapping[str, str], allowed: Tuple[str, ...]) -> Optional[str]:
    value, setting = accounting_option(name, options, env)
    if value is None:
        return None
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text not in allowed:
        raise ConfigError(setting, f"must be one of {', '.join(allowed)}, got {value!r}")
    return text


def _reporting_options(opts: Mapping[str, Any], env: Mapping[str, str]) -> Dict[str, Any]:
    """The reporting-standard options: supplier factor and renewable share (market-based scope 2), water source, task stage."""
    share = setting_float("renewable_share", opts.get("renewable_share"), env, None, minimum=0.0)
    if share is not None and share > 1.0:
        setting = "renewable_share" if opts.get("renewable_share") is not None else "WATTPRINT_RENEWABLE_SHARE"
        raise ConfigError(setting, f"must be a share between 0 and 1, got {share!r}")
    return {
        "market_intensity_g_per_kwh": setting_float(
            "market_intensity_g_per_kwh", opts.get("market_intensity_g_per_kwh"), env, None, minimum=0.0
        ),
        "renewable_share": share,
        "water_source": _choice("water_source", opts, env, WATER_SOURCES) or "unknown",
        "task_stage": _choice("task_stage", opts, env, TASK_STAGES),
    }

