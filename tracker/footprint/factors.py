"""Footprint factors: PUE, grid carbon intensity, on-site WUE and off-site EWIF.

Every value is a :class:`Factor` carrying its unit, source, year, licence and a
low/high range (used for the footprint's bounds). :func:`resolve_factors`
picks each one by precedence:

1. the explicit argument (``pue=1.1``; ``pue="provider:google"`` names a row of
   the bundled PUE table);
2. the ``WATTPRINT_*`` environment variable (``WATTPRINT_PUE``,
   ``WATTPRINT_INTENSITY_G_PER_KWH``, ``WATTPRINT_WUE_L_PER_KWH``,
   ``WATTPRINT_EWIF_L_PER_KWH``);
3. the region's bundled value (``region=`` or ``WATTPRINT_REGION``);
4. the documented global default (region ``world``: Ember's world average
   intensity, Uptime's average PUE, LBNL's average WUE, WRI's world EWIF).

Region codes: ISO 3166-1 countries (``IE``), ISO 3166-2 US states
(``US-VA``), eGRID subregions (``egrid:SRVC``), cloud regions
(``aws:us-east-1``, ``gcp:us-central1``, ``azure:eastus``), the Li et al. 2023
locations (``li2023:arizona``), the source report's Table 3 rows
(``report:singapore``) and ``world``. See ``wattprint regions``.

Nothing here touches the network. Live grid intensity (opt-in) is fetched by
:mod:`wattprint.run.grid_live` once :meth:`Factors.start` is called.

Failure modes: a bad value or an unknown region raises
:class:`~wattprint.errors.ConfigError` naming the setting (or the variable) and
what is allowed; an unknown region suggests close matches.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import os
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Tuple

from wattprint.errors import ConfigError
from wattprint.footprint.hardware import read_data_csv

__all__ = [
    "Factor",
    "Factors",
    "Region",
    "resolve_factors",
    "resolve_region",
    "list_regions",
    "pue_table",
    "DEFAULT_REL_RANGE",
    "LIVE_REL_RANGE",
]

# Relative ranges used when a table row states no low/high of its own.
DEFAULT_REL_RANGE = {"carbon_intensity": 0.10, "pue": 0.05, "wue": 0.5, "ewif": 0.3}
LIVE_REL_RANGE = 0.05  # a live, hourly or half-hourly reading

_UNITS = {"pue": "ratio", "carbon_intensity": "gCO2e/kWh", "wue": "L/kWh", "ewif": "L/kWh"}
_PREFIXES = ("aws", "gcp", "azure", "egrid", "li2023", "report")

_ACCOUNTING_OPTIONS = (
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
)


@dataclass(frozen=True)
class Factor:
    """One factor with its provenance.

    Attributes:
        value: the number, in ``unit``.
        unit: ``"ratio"`` (PUE), ``"gCO2e/kWh"`` or ``"L/kWh"``.
        source: where the number comes from (a citation, ``"argument pue"``, ...).
        year: the year the figure describes, when known.
        low, high: the range used for bounds (equal to ``value`` for user-given values).
        origin: ``"argument"``, ``"env:WATTPRINT_..."``, ``"region:<code>"``,
            ``"default"`` or ``"live"``.
        licence: the licence of the bundled row, when bundled.
        note: anything a reader should know (e.g. a fallback).
    """

    value: float
    unit: str
    source: str
    year: Optional[int] = None
    low: Optional[float] = None
    high: Optional[float] = None
    origin: str = "default"
    licence: Optional[str] = None
    note: Optional[str] = None

    @property
    def range(self) -> Tuple[float, float]:
        lo = self.value if self.low is None else self.low
        hi = self.value if self.high is None else self.high
        return (min(lo, self.value), max(hi, self.value))

    def to_dict(self) -> Dict[str, Any]:
        lo, hi = self.range
        d: Dict[str, Any] = {
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
            "year": self.year,
            "low": lo,
            "high": hi,
            "origin": self.origin,
        }
        if self.licence:
            d["licence"] = self.licence
        if self.note:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class Region:
    """A known region: its code, name, kind and the region whose grid/water figures apply."""

    code: str
    name: str
    kind: str
    location: Optional[str] = None  # for cloud regions and Li et al. locations
    provider: Optional[str] = None  # aws / gcp / azure


@dataclass
class Factors:
    """The resolved factors of a run (see :func:`resolve_factors`).

    ``start()``/``stop()`` run the optional live grid fetcher; both return
    quickly and never raise.
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
    live: Any = field(default=None, repr=False)  # a wattprint.run.grid_live.LiveGrid, or None
    stop_wait_s: float = 1.0

    def to_dict(self) -> Dict[str, Any]:
        return {
            "pue": self.pue.to_dict(),
            "carbon_intensity_g_per_kwh": self.carbon_intensity.to_dict(),
            "wue_l_per_kwh": self.wue.to_dict(),
            "ewif_l_per_kwh": self.ewif.to_dict(),
        }

    # -- live grid hooks (called by the Tracker) ---------------------------
    def start(self) -> None:
        if self.live is not None:
            self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop(wait_s=self.stop_wait_s)

    def intensity_readings(self) -> List[Tuple[_dt.datetime, float]]:
        """Live readings so far, ``(aware UTC time, gCO2e/kWh)``, oldest first; empty without live data."""
        return self.live.readings() if self.live is not None else []

    def grid_status(self) -> Optional[Dict[str, Any]]:
        return self.live.status() if self.live is not None else None

    def wait_live(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the first live fetch to finish (tests, short scripts)."""
        return self.live.wait_ready(timeout_s) if self.live is not None else False


# -- the bundled tables ------------------------------------------------------


def _f(text: Optional[str]) -> Optional[float]:
    text = (text or "").strip()
    return float(text) if text else None


def _i(text: Optional[str]) -> Optional[int]:
    text = (text or "").strip()
    return int(text) if text else None


@dataclass(frozen=True)
class _Tables:
    grid: Dict[str, dict]
    cloud: Dict[str, dict]
    li: Dict[str, dict]
    pue: Dict[str, dict]
    wue: Dict[str, dict]
    ewif: Dict[str, dict]
    regions: Dict[str, Region]


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    grid = {r["region"]: r for r in read_data_csv("grid_intensity.csv")}
    cloud = {r["region"]: r for r in read_data_csv("cloud_regions.csv")}
    li = {r["region"]: r for r in read_data_csv("locations_li2023.csv")}
    pue = {r["key"]: r for r in read_data_csv("pue.csv")}
    water = read_data_csv("water.csv")
    wue = {r["key"]: r for r in water if r["kind"] == "wue"}
    ewif = {r["key"]: r for r in water if r["kind"] == "ewif"}
    regions: Dict[str, Region] = {}
    for code, r in grid.items():
        regions[code] = Region(code, r["name"], r["kind"])
    for code, r in cloud.items():
        regions[code] = Region(code, f"{r['provider'].upper()} {r['name']}", "cloud-region", r["location"], r["provider"])
    for code, r in li.items():
        regions[code] = Region(code, r["name"], "li2023-location", r["location"])
    return _Tables(grid, cloud, li, pue, wue, ewif, regions)


def pue_table() -> Dict[str, dict]:
    """The bundled PUE rows by key (``default``, ``provider:google``, ``google:dublin-ie``...)."""
    return dict(_tables().pue)


def normalize_region(code: str) -> str:
    """Canonical spelling: ``ie`` -> ``IE``, ``us-va`` -> ``US-VA``, ``AWS:US-EAST-1`` -> ``aws:us-east-1``."""
    text = code.strip()
    if text.lower() == "world":
        return "world"
    if ":" in text:
        prefix, rest = text.split(":", 1)
        prefix = prefix.strip().lower()
        rest = rest.strip()
        return f"{prefix}:{rest.upper() if prefix == 'egrid' else rest.lower()}"
    return text.upper()


def resolve_region(code: Optional[str], setting: str = "region") -> Region:
    """The :class:`Region` for a code (``None`` -> ``world``).

    Raises:
        ConfigError: unknown code; the message suggests close matches.
    """
    tables = _tables()
    if code is None:
        return tables.regions["world"]
    if not isinstance(code, str) or not code.strip():
        raise ConfigError(setting, f"must be a region code such as IE, US-VA, aws:us-east-1 or world, got {code!r}")
    norm = normalize_region(code)
    if norm in tables.regions:
        return tables.regions[norm]
    raise ConfigError(setting, _unknown_region_message(code, norm))


def _unknown_region_message(code: str, norm: str) -> str:
    import difflib  # only on this error path

    tables = _tables()
    codes = list(tables.regions)
    by_name = {r.name.lower(): r.code for r in tables.regions.values()}
    hits = difflib.get_close_matches(norm, codes, n=5, cutoff=0.6)
    hits += [by_name[n] for n in difflib.get_close_matches(code.strip().lower(), list(by_name), n=3, cutoff=0.75)]
    if ":" in norm:  # same provider, similar name
        prefix = norm.split(":", 1)[0]
        same = [c for c in codes if c.startswith(prefix + ":")]
        hits += difflib.get_close_matches(norm, same, n=3, cutoff=0.4)
    seen: List[str] = []
    for h in hits:
        if h not in seen:
            seen.append(h)
    hint = f"; did you mean {', '.join(seen[:5])}?" if seen else ""
    return (
        f"unknown region {code!r}{hint} Codes: ISO countries (IE), US states (US-VA), aws:/gcp:/azure: cloud regions, "
        "egrid:, li2023:, report: rows and world; `wattprint regions QUERY` lists them"
    )


def _chain(region: Region) -> List[str]:
    """Codes to try for grid and water figures, most specific first."""
    out = [region.code]
    if region.location:
        out.append(region.location)
    for code in list(out):
        if code.startswith("US-") or code.startswith("egrid:"):
            out.append("US")
    out.append("world")
    seen: List[str] = []
    for c in out:
        if c not in seen:
            seen.append(c)
    return seen


def _row_factor(kind: str, row: dict, value_key: str, low_key: str, high_key: str, origin: str, note: Optional[str] = None) -> Factor:
    value = float(row[value_key])
    lo, hi = _f(row.get(low_key)), _f(row.get(high_key))
    rel = DEFAULT_REL_RANGE[kind]
    if lo is None:
        lo = 1.0 + (value - 1.0) * (1 - rel) if kind == "pue" else value * (1 - rel)
    if hi is None:
        hi = 1.0 + (value - 1.0) * (1 + rel) if kind == "pue" else value * (1 + rel)
    return Factor(value, _UNITS[kind], row["source"], _i(row.get("year")), lo, hi, origin, row.get("licence") or None, note)


def _region_intensity(region: Region) -> Factor:
    t = _tables()
    for code in _chain(region):
        if code in t.grid:
            note = None if code == region.code else f"no figure for {region.code}; using {code}"
            origin = "default" if code == "world" and region.code == "world" else f"region:{code}"
            return _row_factor("carbon_intensity", t.grid[code], "intensity_g_per_kwh", "low_g_per_kwh", "high_g_per_kwh", origin, note)
    raise AssertionError("the bundled grid table has no world row")  # pragma: no cover


def _region_ewif(region: Region) -> Factor:
    t = _tables()
    if region.code in t.li:
        r = t.li[region.code]
        return Factor(float(r["ewif_l_per_kwh"]), "L/kWh", r["source"], _i(r["year"]), None, None, f"region:{region.code}", r["licence"])
    for code in _chain(region):
        if code in t.ewif:
            note = None if code == region.code else f"no off-site water figure for {region.code}; using {code}"
            origin = "default" if code == "world" else f"region:{code}"
            return _row_factor("ewif", t.ewif[code], "value", "low", "high", origin, note)
    raise AssertionError("the bundled water table has no world EWIF row")  # pragma: no cover


def _region_pue(region: Region) -> Factor:
    t = _tables()
    if region.code in t.li:
        r = t.li[region.code]
        return Factor(float(r["pue"]), "ratio", r["source"], _i(r["year"]), None, None, f"region:{region.code}", r["licence"])
    if region.provider and f"provider:{region.provider if region.provider != 'gcp' else 'google'}" in t.pue:
        key = f"provider:{region.provider if region.provider != 'gcp' else 'google'}"
        return _row_factor("pue", t.pue[key], "pue", "low", "high", f"region:{region.code}", f"provider fleet figure ({key})")
    note = "no facility figure for this region: global average data centre; pass pue= (1.0 for a machine outside a data centre)"
    return _row_factor("pue", t.pue["default"], "pue", "low", "high", "default", note)


def _region_wue(region: Region) -> Factor:
    t = _tables()
    if region.code in t.li:
        r = t.li[region.code]
        return Factor(float(r["wue_l_per_kwh"]), "L/kWh", r["source"], _i(r["year"]), None, None, f"region:{region.code}", r["licence"])
    if region.provider:
        key = f"provider:{region.provider if region.provider != 'gcp' else 'google'}"
        if key in t.wue:
            return _row_factor("wue", t.wue[key], "value", "low", "high", f"region:{region.code}", f"provider fleet figure ({key})")
    note = "no facility figure for this region: average data centre; pass wue_l_per_kwh= (0 for an air-cooled room)"
    return _row_factor("wue", t.wue["default"], "value", "low", "high", "default", note)


# -- explicit values -----------------------------------------------------------


def _explicit(
    kind: str, name: str, value: Any, env: Mapping[str, str], minimum: float
) -> Optional[Factor]:
    """A factor from the argument, else from ``WATTPRINT_<NAME>``; ``None`` when neither is set."""
    setting, origin = name, "argument"
    if value is None:
        var = "WATTPRINT_" + name.upper()
        raw = env.get(var)
        if raw is None or not str(raw).strip():
            return None
        setting, origin, value = var, f"env:{var}", str(raw).strip()
    if kind == "pue" and isinstance(value, str):
        key = value.strip()
        table = _tables().pue
        if key in table or key.lower() in table:
            row = table.get(key) or table[key.lower()]
            return replace(_row_factor("pue", row, "pue", "low", "high", origin), note=f"PUE table row {key.lower()!r}")
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
    return Factor(v, _UNITS[kind], source, None, v, v, origin)


def _option(name: str, options: Mapping[str, Any], env: Mapping[str, str]) -> Tuple[Any, str]:
    """An accounting option from the keyword, else ``WATTPRINT_<NAME>``: ``(value, setting name)``."""
    if options.get(name) is not None:
        return options[name], name
    var = "WATTPRINT_" + name.upper()
    raw = env.get(var)
    return (raw.strip() if isinstance(raw, str) and raw.strip() else None), var


def _positive_option(name: str, options: Mapping[str, Any], env: Mapping[str, str], *, minimum: float = 0.0) -> Optional[float]:
    value, setting = _option(name, options, env)
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(setting, f"must be a number > {minimum:g}, got {value!r}") from None
    if isinstance(value, bool) or math.isnan(v) or math.isinf(v) or v <= minimum:
        raise ConfigError(setting, f"must be a finite number > {minimum:g}, got {value!r}")
    return v


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
        grid: live intensity provider, ``"electricitymaps"``, ``"ukci"`` or ``"watttime"`` (off by default).
        grid_zone: the provider's zone (Electricity Maps ``"DE"``; WattTime ``"CAISO_NORTH"``;
            UK ``"regionid:13"`` or ``"postcode:RG41"``, national by default).
        grid_token: Electricity Maps key, or WattTime ``"user:password"``. Never logged or stored.
        grid_url: the provider's base URL (tests, proxies). grid_timeout_s (default 5),
        grid_refresh_s (default 900), grid_stop_wait_s (how long ``stop()`` may wait for a
        first reading still in flight, default 1), grid_session (a ``requests.Session``).
        lifetime_years: hardware amortisation lifetime overriding the table (years, > 0).
        embodied: include embodied carbon (default ``True``).
        model_params: parameter count N; FLOPs are then ``6 * N * tokens`` when none are counted.

    Raises:
        ConfigError: a value out of range, an unknown region or option, a live provider
            without the zone or token it needs. Never touches the network.
    """
    env = os.environ if env is None else env
    unknown = sorted(set(accounting_options) - set(_ACCOUNTING_OPTIONS))
    if unknown:
        raise ConfigError("accounting_options", f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(_ACCOUNTING_OPTIONS)}")
    setting = "region"
    if region is None and env.get("WATTPRINT_REGION", "").strip():
        region, setting = env["WATTPRINT_REGION"], "WATTPRINT_REGION"
    grid_provider, grid_setting = _option("grid", accounting_options, env)
    if region is None and isinstance(grid_provider, str) and grid_provider.strip().lower() == "ukci":
        region = "GB"  # the UK API covers Great Britain; its bundled fallback is the UK figure
    reg = resolve_region(region, setting)

    pue_f = _explicit("pue", "pue", pue, env, 1.0) or _region_pue(reg)
    ci_f = _explicit("carbon_intensity", "intensity_g_per_kwh", intensity_g_per_kwh, env, 0.0) or _region_intensity(reg)
    wue_f = _explicit("wue", "wue_l_per_kwh", wue_l_per_kwh, env, 0.0) or _region_wue(reg)
    ewif_f = _explicit("ewif", "ewif_l_per_kwh", ewif_l_per_kwh, env, 0.0) or _region_ewif(reg)

    lifetime = _positive_option("lifetime_years", accounting_options, env)
    model_params = _positive_option("model_params", accounting_options, env)
    emb_value, emb_setting = _option("embodied", accounting_options, env)
    embodied = True
    if emb_value is not None:
        if isinstance(emb_value, bool):
            embodied = emb_value
        elif str(emb_value).strip().lower() in ("1", "true", "yes", "on"):
            embodied = True
        elif str(emb_value).strip().lower() in ("0", "false", "no", "off"):
            embodied = False
        else:
            raise ConfigError(emb_setting, f"must be true or false, got {emb_value!r}")

    live = None
    stop_wait_s = 1.0
    if grid_provider is not None:
        from wattprint.run import grid_live

        if intensity_g_per_kwh is not None:
            raise ConfigError(grid_setting, "a live grid and an explicit intensity_g_per_kwh exclude each other; choose one")
        live = grid_live.from_options(grid_provider, grid_setting, reg.code, accounting_options, env)
        stop_wait_s = _nonneg_option("grid_stop_wait_s", accounting_options, env, 1.0)
    return Factors(
        region=reg.code,
        pue=pue_f,
        carbon_intensity=ci_f,
        wue=wue_f,
        ewif=ewif_f,
        region_name=reg.name,
        lifetime_years=lifetime,
        embodied=embodied,
        model_params=model_params,
        live=live,
        stop_wait_s=stop_wait_s,
    )


def _nonneg_option(name: str, options: Mapping[str, Any], env: Mapping[str, str], default: float) -> float:
    value, setting = _option(name, options, env)
    if value is None:
        return default
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(setting, f"must be a number >= 0, got {value!r}") from None
    if math.isnan(v) or math.isinf(v) or v < 0:
        raise ConfigError(setting, f"must be a finite number >= 0, got {value!r}")
    return v


# -- listing ---------------------------------------------------------------------


def list_regions(query: Optional[str] = None) -> List[Dict[str, Any]]:
    """Every region code with its resolved factors and sources; ``query`` filters by
    code or name (case-insensitive substring)."""
    out: List[Dict[str, Any]] = []
    q = (query or "").strip().lower()
    for code, reg in sorted(_tables().regions.items(), key=lambda kv: _sort_key(kv[0])):
        if q and q not in code.lower() and q not in reg.name.lower():
            continue
        out.append(
            {
                "code": code,
                "name": reg.name,
                "kind": reg.kind,
                "location": reg.location,
                "factors": {
                    "carbon_intensity_g_per_kwh": _region_intensity(reg).to_dict(),
                    "pue": _region_pue(reg).to_dict(),
                    "wue_l_per_kwh": _region_wue(reg).to_dict(),
                    "ewif_l_per_kwh": _region_ewif(reg).to_dict(),
                },
            }
        )
    return out


def _sort_key(code: str) -> Tuple[int, str]:
    if code == "world":
        return (0, code)
    if ":" in code:
        return (2 + _PREFIXES.index(code.split(":")[0]) if code.split(":")[0] in _PREFIXES else 9, code)
    return (1, code)
