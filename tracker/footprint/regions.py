"""Regions and their bundled factors: grid intensity, PUE, on-site WUE, off-site EWIF.

Region codes: ISO 3166-1 countries (``IE``), ISO 3166-2 US states
(``US-VA``), eGRID subregions (``egrid:SRVC``), cloud regions
(``aws:us-east-1``, ``gcp:us-central1``, ``azure:eastus``), the Li et al. 2023
locations (``li2023:arizona``), the source report's Table 3 rows
(``report:singapore``) and ``world``. See ``wattprint regions``.

Each figure is a :class:`Factor` carrying its unit, source, year, licence and
a low/high range. :func:`region_factor` finds one by the kind's lookup order
(:data:`_LOOKUP`): the Li et al. 2023 row of the location, then either the
region's fallback chain (the region, its location, ``US`` for US codes,
``world``) or the provider's fleet row and then the table's default.

Failure modes: an unknown region raises :class:`~wattprint.errors.ConfigError`
suggesting close matches; the bundled tables always hold a world / default
row, so a known region always resolves.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from wattprint.errors import ConfigError
from wattprint.footprint.tables import opt_float, opt_int, read_data_csv

__all__ = [
    "Factor",
    "Region",
    "FACTOR_KINDS",
    "DEFAULT_REL_RANGE",
    "LIVE_REL_RANGE",
    "UNITS",
    "normalize_region",
    "resolve_region",
    "exact_hints",
    "SOURCE_REPORT_TITLE",
    "name_source",
    "region_factor",
    "row_factor",
    "list_regions",
    "pue_table",
]

# Relative ranges used when a table row states no low/high of its own.
DEFAULT_REL_RANGE = {"carbon_intensity": 0.10, "pue": 0.05, "wue": 0.5, "ewif": 0.3}
LIVE_REL_RANGE = 0.05  # a live, hourly or half-hourly reading

UNITS = {"pue": "ratio", "carbon_intensity": "gCO2e/kWh", "wue": "L/kWh", "ewif": "L/kWh"}
# factor kind -> its key in the footprint's ``factors`` section
FACTOR_KINDS = {"pue": "pue", "carbon_intensity": "carbon_intensity_g_per_kwh", "wue": "wue_l_per_kwh", "ewif": "ewif_l_per_kwh"}
_PREFIXES = ("aws", "gcp", "azure", "egrid", "li2023", "report")
_PROVIDER_NAMES = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}  # as the providers spell themselves

# The bundled rows cite the source report as "Source report (seed/000)" or "Source report Table N";
# this is its title (a Dutch text: "Appendix D: The Environmental Impact of Artificial Intelligence").
SOURCE_REPORT_TITLE = "Bijlage D: De Milieu-impact van Kunstmatige Intelligentie (in Dutch)"
_SOURCE_REPORT_PLACEHOLDERS = ("Source report (seed/000)", "Source report")


def name_source(source: str) -> str:
    """A source citation for display, the source report named by its title instead of its placeholder."""
    for placeholder in _SOURCE_REPORT_PLACEHOLDERS:
        if source.startswith(placeholder):
            rest = source[len(placeholder):].lstrip(", ")
            return f"{SOURCE_REPORT_TITLE}, {rest}" if rest else SOURCE_REPORT_TITLE
    return source


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
        basis: for a grid intensity, ``"lifecycle"``, ``"direct"`` or ``"as published"``
            (see :func:`grid_basis_of`); ``None`` for other factors.
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
    basis: Optional[str] = None

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
        if self.basis:
            d["basis"] = self.basis
        return d


@dataclass(frozen=True)
class Region:
    """A known region: its code, name, kind and the region whose grid/water figures apply."""

    code: str
    name: str
    kind: str
    location: Optional[str] = None  # for cloud regions and Li et al. locations
    provider: Optional[str] = None  # aws / gcp / azure


# -- the bundled tables ------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    grid: Dict[str, Dict[str, str]]
    cloud: Dict[str, Dict[str, str]]
    li: Dict[str, Dict[str, str]]
    pue: Dict[str, Dict[str, str]]
    wue: Dict[str, Dict[str, str]]
    ewif: Dict[str, Dict[str, str]]
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
        regions[code] = Region(code, f"{_PROVIDER_NAMES.get(r['provider'], r['provider'].upper())} {r['name']}", "cloud-region", r["location"], r["provider"])
    for code, r in li.items():
        regions[code] = Region(code, r["name"], "li2023-location", r["location"])
    return _Tables(grid, cloud, li, pue, wue, ewif, regions)


def pue_table() -> Dict[str, Dict[str, str]]:
    """The bundled PUE rows by key (``default``, ``provider:google``, ``google:dublin-ie``...)."""
    return dict(_tables().pue)


# -- region codes ------------------------------------------------------------


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


@functools.lru_cache(maxsize=1)
def _aliases() -> Dict[str, str]:
    """Hint-only codes (``data/region_aliases.csv``): ISO alpha-3 ``IRL`` and reserved ``UK`` -> the region code."""
    return {r["code"]: r["region"] for r in read_data_csv("region_aliases.csv")}


def exact_hints(norm: str) -> List[str]:
    """Codes the user almost certainly meant by an unknown ``norm`` (see :func:`normalize_region`): an alias (``UK`` -> ``GB``, ``IRL`` -> ``IE``) or a
    cloud region typed without its provider (``us-east-1`` -> ``aws:us-east-1``)."""
    tables = _tables()
    alias = _aliases().get(norm)
    if alias in tables.regions:
        return [alias]
    if ":" in norm:
        return []
    bare = norm.lower()
    return [code for code in tables.regions if ":" in code and code.split(":", 1)[1].lower() == bare]


def _unknown_region_message(code: str, norm: str) -> str:
    import difflib  # only on this error path

    tables = _tables()
    codes = list(tables.regions)
    hits = exact_hints(norm)
    if not hits:
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
    hint = f"; did you mean {', '.join(seen[:5])}?" if seen else "."
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


# -- one lookup for every factor kind ---------------------------------------------


def row_factor(kind: str, row: Dict[str, str], value_key: str, low_key: str, high_key: str, origin: str, note: Optional[str] = None) -> Factor:
    """A :class:`Factor` from a table row; a missing low/high uses :data:`DEFAULT_REL_RANGE`
    (for PUE, applied to the overhead ``PUE - 1``)."""
    value = float(row[value_key])
    lo, hi = opt_float(row.get(low_key)), opt_float(row.get(high_key))
    rel = DEFAULT_REL_RANGE[kind]
    if lo is None:
        lo = 1.0 + (value - 1.0) * (1 - rel) if kind == "pue" else value * (1 - rel)
    if hi is None:
        hi = 1.0 + (value - 1.0) * (1 + rel) if kind == "pue" else value * (1 + rel)
    basis = grid_basis_of(row.get("basis")) if kind == "carbon_intensity" else None
    return Factor(value, UNITS[kind], row["source"], opt_int(row.get("year")), lo, hi, origin, row.get("licence") or None, note, basis)


def grid_basis_of(text: Optional[str]) -> str:
    """A grid row's ``basis`` cell as ``"lifecycle"`` (Ember, OWID), ``"direct"`` (eGRID, Google's operational
    grid figures) or ``"as published"`` (a figure quoted as printed)."""
    t = (text or "").strip().lower()
    if t.startswith("lifecycle"):
        return "lifecycle"
    if t.startswith("direct") or t.startswith("grid average"):
        return "direct"
    return "as published"


@dataclass(frozen=True)
class _Lookup:
    """Where a factor kind is looked up, in order.

    ``li_column``: the Li et al. 2023 location column (tried first), or ``None``.
    ``table``/``value``/``low``/``high``: the bundled table and its columns.
    ``by``: ``"chain"`` tries the region's fallback chain in ``table`` (``note``
    formats the fallback, ``{region}``/``{code}``); ``"provider"`` tries the cloud
    provider's fleet row, then the table's ``default`` row (``note`` says so).
    ``world_default``: for a chain, the world row counts as ``"default"`` origin
    for every region (else only for the world region itself).
    """

    li_column: Optional[str]
    table: str
    value: str
    low: str
    high: str
    by: str
    note: str
    world_default: bool = False


_LOOKUP: Dict[str, _Lookup] = {
    "carbon_intensity": _Lookup(None, "grid", "intensity_g_per_kwh", "low_g_per_kwh", "high_g_per_kwh", "chain",
                                "no figure for {region}; using {code}"),
    "ewif": _Lookup("ewif_l_per_kwh", "ewif", "value", "low", "high", "chain",
                    "no off-site water figure for {region}; using {code}", world_default=True),
    "pue": _Lookup("pue", "pue", "pue", "low", "high", "provider",
                   "no facility figure for this region: global average data centre; pass pue= (1.0 for a machine outside a data centre)"),
    "wue": _Lookup("wue_l_per_kwh", "wue", "value", "low", "high", "provider",
                   "no facility figure for this region: average data centre; pass wue_l_per_kwh= (0 for an air-cooled room)"),
}


def region_factor(kind: str, region: Region) -> Factor:
    """The bundled ``kind`` factor (``"pue"``, ``"carbon_intensity"``, ``"wue"``, ``"ewif"``) of a region."""
    t = _tables()
    spec = _LOOKUP[kind]
    if spec.li_column is not None and region.code in t.li:
        r = t.li[region.code]
        return Factor(float(r[spec.li_column]), UNITS[kind], r["source"], opt_int(r["year"]), None, None, f"region:{region.code}", r["licence"])
    table: Dict[str, Dict[str, str]] = getattr(t, spec.table)
    if spec.by == "chain":
        for code in _chain(region):
            if code in table:
                note = None if code == region.code else spec.note.format(region=region.code, code=code)
                is_default = code == "world" and (spec.world_default or region.code == "world")
                return row_factor(kind, table[code], spec.value, spec.low, spec.high, "default" if is_default else f"region:{code}", note)
        raise AssertionError(f"the bundled {spec.table} table has no world row")  # pragma: no cover
    if region.provider:
        key = f"provider:{'google' if region.provider == 'gcp' else region.provider}"
        if key in table:
            return row_factor(kind, table[key], spec.value, spec.low, spec.high, f"region:{region.code}", f"provider fleet figure ({key})")
    if kind == "wue" and region.code != "world":
        from wattprint.footprint.climate import site_wue  # the climate model imports this module

        site = site_wue(region)
        if site is not None:
            return site
    return row_factor(kind, table["default"], spec.value, spec.low, spec.high, "default", spec.note)


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
                "factors": {FACTOR_KINDS[k]: region_factor(k, reg).to_dict() for k in ("carbon_intensity", "pue", "wue", "ewif")},
            }
        )
    return out


def _sort_key(code: str) -> Tuple[int, str]:
    if code == "world":
        return (0, code)
    if ":" in code:
        return (2 + _PREFIXES.index(code.split(":")[0]) if code.split(":")[0] in _PREFIXES else 9, code)
    return (1, code)
