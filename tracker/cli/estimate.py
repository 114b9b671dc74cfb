"""``wattprint estimate`` and ``wattprint regions``: plan a run, list the factor data.

``wattprint estimate --params 405e9 --tokens 15.6e12 --gpu H100 --gpus 16384 --mfu 0.4 --region US``
``wattprint estimate --energy-kwh 1287000 --region li2023:arizona --json``
``wattprint regions [QUERY] [--json]``: codes with their factors and sources; an exact
code shows every factor with its source and licence.

Quantities are printed with the :mod:`wattprint.units` formatters (readable units,
three significant figures; counts such as FLOPs in ``e`` notation); ``--json``
prints the document in its base units (kWh, kg, L, s).

Exit codes: 0 done; 2 a bad or inconsistent input (the message names it) or,
for ``regions``, nothing matches the query.

Failure modes: a :class:`~wattprint.errors.ConfigError` from the planner is
printed with its setting and gives exit 2; nothing else is caught.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Dict, List, Optional

from wattprint import units
from wattprint.cli._flags import describe
from wattprint._io import strict_json
from wattprint.errors import ConfigError
from wattprint.footprint.regions import name_source

__all__ = ["register", "format_estimate", "format_regions"]


def register(subparsers: Any) -> None:
    """Add the ``estimate`` and ``regions`` subcommands to the ``wattprint`` parser."""
    est = subparsers.add_parser(
        "estimate",
        help="plan a run: FLOPs, time, energy, carbon and water before it happens",
        description="Estimate a run's footprint. FLOPs: --flops, or --params and --tokens (6·N·D). "
        "Energy: --energy-kwh, or --gpu with --mfu (time follows from FLOPs) or --hours.",
    )
    est.add_argument("--params", type=float, help="model parameters N (e.g. 405e9)")
    est.add_argument("--tokens", type=float, help="training tokens D (e.g. 15.6e12)")
    est.add_argument("--flops", type=float, help="total training FLOPs (instead of --params/--tokens)")
    est.add_argument("--gpu", help="accelerator model, e.g. H100, A100, V100, B200, L4, MI300X")
    est.add_argument("--gpus", type=int, default=1, help="number of accelerators (default 1)")
    est.add_argument("--mfu", type=float, help="model FLOPs utilisation, 0-1 (sets the time from FLOPs)")
    est.add_argument("--hours", type=float, help="wall-clock hours (sets the MFU from FLOPs)")
    est.add_argument("--energy-kwh", type=float, dest="energy_kwh", help="IT energy in kWh (instead of GPU x time)")
    est.add_argument("--power-w", type=float, dest="power_w", help="mean power per accelerator, W (default its TDP)")
    est.add_argument("--region", help="region code (IE, US-VA, aws:us-east-1, li2023:arizona, ...); default world")
    est.add_argument("--pue", help="PUE (>= 1) or a PUE table key such as provider:google")
    est.add_argument("--wue", type=float, dest="wue_l_per_kwh", help="on-site water, L per IT kWh")
    est.add_argument("--ewif", type=float, dest="ewif_l_per_kwh", help="off-site water, L per facility kWh")
    est.add_argument("--intensity", type=float, dest="intensity_g_per_kwh", help="grid intensity, gCO2e/kWh")
    est.add_argument("--lifetime-years", type=float, dest="lifetime_years", help="hardware lifetime for embodied carbon")
    _register_planner_flags(est)
    est.add_argument("--json", action="store_true", help="print the footprint-shaped JSON document")
    est.set_defaults(func=_cmd_estimate)

    reg = subparsers.add_parser("regions", help="region codes with their factors and sources")
    reg.add_argument("query", nargs="?", help="filter by code or name (an exact code shows every source)")
    reg.add_argument("--json", action="store_true", help="print JSON")
    reg.set_defaults(func=_cmd_regions)


def _register_planner_flags(est: argparse.ArgumentParser) -> None:
    """The planner inputs of issue 15 (each is a keyword of :func:`wattprint.estimate`)."""
    a = est.add_argument
    a("--gpu-hours", type=float, dest="gpu_hours", help="accelerator-hours, as model cards publish them (instead of --hours)")
    a("--peak-flops", type=float, dest="peak_flops_per_s", help="peak dense FLOP/s per accelerator (one the table lacks)")
    a("--embodied-kg-per-device", type=float, dest="embodied_kg_per_device", help="embodied kgCO2e per accelerator")
    a("--facility-energy-kwh", type=float, dest="facility_energy_kwh", help="energy already including PUE, kWh (PUE not applied again)")
    a("--idle-power-w", type=float, dest="idle_power_w", help="idle / infrastructure power over the duration, W")
    a("--host-embodied-kg", type=float, dest="host_embodied_kg", help="embodied kgCO2e per host server (8 accelerators each)")
    a("--usage-share", type=float, dest="usage_share", help="share of the hardware's lifetime in use, 0-1 (BLOOM: 0.85)")
    a("--market-intensity", type=float, dest="market_intensity_g_per_kwh", help="supplier factor, gCO2e/kWh: market-based scope 2")
    a("--renewable-share", type=float, dest="renewable_share", help="contractual renewable share, 0-1: market-based scope 2")
    a("--withdrawal", nargs="?", const=True, default=None, metavar="ONSITE,OFFSITE",
      help="report water withdrawal beside consumption (bundled factors, or ONSITE,OFFSITE L/kWh)")
    a("--pue-on-wue", action="store_true", default=None, dest="pue_on_wue", help="multiply on-site WUE by PUE (off: The Green Grid)")
    a("--grid-basis", choices=("lifecycle", "direct"), dest="grid_basis", help="grid intensity basis (default: each row as published)")
    a("--grid-year", type=int, dest="grid_year", help="price with that year's grid figure where bundled (an older run)")
    a("--requests", type=float, help="requests served: per-request energy, carbon and water (inference planning)")
    a("--from", dest="from_run", metavar="RUN.json", help="a measured run: scale its J/token (--tokens) or J/step (--steps)")
    a("--steps", type=float, help="planned steps (with --from: scale the run's J/step)")


_PLANNER_KEYS = ("gpu_hours", "peak_flops_per_s", "embodied_kg_per_device", "facility_energy_kwh", "idle_power_w", "host_embodied_kg",
                 "usage_share", "market_intensity_g_per_kwh", "renewable_share", "withdrawal", "pue_on_wue", "grid_basis", "grid_year",
                 "requests", "from_run", "steps")


def _cmd_estimate(args: argparse.Namespace) -> int:
    from wattprint.footprint.planning import estimate

    pue: Any = args.pue
    if pue is not None:
        try:
            pue = float(pue)
        except ValueError:
            pass  # a PUE table key
    flags = getattr(args, "flag_names", {})
    if args.power_w is not None and args.gpu is None and args.energy_kwh is None and args.facility_energy_kwh is None:
        print(
            "wattprint estimate: --power-w is the mean power of one accelerator: give --gpu too, a bundled model "
            "(e.g. --gpu H100 --power-w 450 --hours 10) or any name for one the table lacks "
            "(--gpu 'WSE-3' --power-w 23000 --peak-flops 1.25e17), or the energy with --energy-kwh",
            file=sys.stderr,
        )
        return 2
    try:
        doc = estimate(
            params=args.params,
            tokens=args.tokens,
            flops=args.flops,
            gpu=args.gpu,
            gpus=args.gpus,
            mfu=args.mfu,
            hours=args.hours,
            energy_kwh=args.energy_kwh,
            power_w=args.power_w,
            region=args.region,
            pue=pue,
            wue_l_per_kwh=args.wue_l_per_kwh,
            ewif_l_per_kwh=args.ewif_l_per_kwh,
            intensity_g_per_kwh=args.intensity_g_per_kwh,
            lifetime_years=args.lifetime_years,
            **{k: getattr(args, k) for k in _PLANNER_KEYS},
        )
    except ConfigError as err:
        print(f"wattprint estimate: {describe(err, flags)}", file=sys.stderr)
        return 2
    if args.json:
        print(strict_json(doc))  # never NaN/Infinity
    else:
        print(format_estimate(doc))
    return 0


def _range(bounds: Dict[str, Any], key: str, fmt: Callable[[Optional[float]], str]) -> str:
    lo, hi = bounds.get(key) or (None, None)
    return f"{fmt(lo)} to {fmt(hi)}"


def format_estimate(doc: Dict[str, Any]) -> str:
    """Human lines for an :func:`~wattprint.footprint.planning.estimate` document (units from :mod:`wattprint.units`)."""
    w, e, c, wa, f, b = doc["work"], doc["energy"], doc["carbon"], doc["water"], doc["factors"], doc["bounds"]
    lines = [f"wattprint estimate ({doc['region']}: {doc.get('region_name', '')})"]
    if w.get("flops") is not None:
        lines.append(f"  compute   {units.format_count(w['flops'], 'FLOP')} ({w.get('flops_source')})")
    hw = doc.get("hardware")
    if hw:
        lines.append(
            f"  hardware  {hw['count']} x {hw['model']} ({units.format_count(hw['peak_bf16_flops'], 'FLOP/s') if hw.get('peak_bf16_flops') else 'peak unknown'} dense bf16, "
            f"{units.format_power(hw['tdp_w']) + ' TDP' if hw.get('tdp_w') else 'no published TDP'})"
        )
    if doc.get("duration_s"):
        gh = f", {units.format_count(doc['gpu_hours'], 'GPU-hours')}" if doc.get("gpu_hours") else ""
        lines.append(f"  time      {units.format_duration(doc['duration_s'])}{gh}; MFU {units.format_percent(w.get('mfu'))}")
    if e.get("it_kwh") is None:
        lines.extend(f"  note: {n}" for n in doc.get("notes", []))
        return "\n".join(lines)

    def kwh(value: Optional[float]) -> str:
        return units.format_energy(units.kwh_to_j(value))

    lines.append(
        f"  energy    IT {kwh(e['it_kwh'])}, facility {kwh(e['facility_kwh'])} (PUE {units.format_factor(f['pue']['value'])}; "
        f"range {_range(b, 'energy.facility_kwh', kwh)})"
    )
    emb = c.get("embodied_kg")
    lines.append(
        f"  carbon    {units.format_carbon(c['total_kg'])} (operational {units.format_carbon(c['operational_kg'])} at "
        f"{units.format_factor(f['carbon_intensity_g_per_kwh']['value'])} gCO2e/kWh; embodied {units.format_carbon(emb) if emb is not None else 'unknown'}); "
        f"range {_range(b, 'carbon.total_kg', units.format_carbon)}"
    )
    lines.append(
        f"  water     {units.format_water(wa['total_l'])} (on-site {units.format_water(wa['onsite_l'])} at WUE {units.format_factor(f['wue_l_per_kwh']['value'])} L/kWh; "
        f"off-site {units.format_water(wa['offsite_l'])} at EWIF {units.format_factor(f['ewif_l_per_kwh']['value'])} L/kWh); "
        f"range {_range(b, 'water.total_l', units.format_water)}"
    )
    lines.extend(_planner_lines(doc))
    if w.get("cci_g_per_eflop") is not None:
        lines.append(f"  CCI       {units.format_count(w['cci_g_per_eflop'], 'gCO2e per ExaFLOP')}")
    lines.append("  sources:")
    for key in ("pue", "carbon_intensity_g_per_kwh", "wue_l_per_kwh", "ewif_l_per_kwh"):
        lines.append(f"    {key:<27} {name_source(f[key]['source'])} ({f[key].get('year') or 'n/a'})")
    for note in doc.get("notes", []):
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def _planner_lines(doc: Dict[str, Any]) -> List[str]:
    """Market-based scope 2, water withdrawal and per-request figures, where the plan has them."""
    c, wa, b, out = doc["carbon"], doc["water"], doc["bounds"], []
    f = doc["factors"]
    out.append(f"  WUE       {units.format_factor(f['wue_l_per_kwh']['value'])} L/kWh on-site ({f['wue_l_per_kwh'].get('origin')}"
               f"{', x PUE' if f.get('pue_on_wue') else ''}); grid basis {f.get('grid_basis', 'as published')}")
    if c.get("scope2_market_kg") is not None:
        out.append(f"  scope 2   location-based {units.format_carbon(c['scope2_location_kg'])}; market-based {units.format_carbon(c['scope2_market_kg'])}"
                   f" ({c.get('scope2_market_basis', '')})")
    if wa.get("withdrawal_total_l") is not None:
        out.append(f"  withdrawal {units.format_water(wa['withdrawal_total_l'])} (on-site {units.format_water(wa['withdrawal_onsite_l'])}, "
                   f"off-site {units.format_water(wa['withdrawal_offsite_l'])}); range {_range(b, 'water.withdrawal_total_l', units.format_water)}")
    pr = doc.get("per_request")
    if pr:
        out.append(f"  request   {units.format_count(pr['requests'], 'requests')}: {pr['it_wh']:.3g} Wh IT, {pr['carbon_g']:.3g} gCO2e, "
                   f"{pr['water_ml']:.3g} mL water each; {pr['requests_per_500ml']:.3g} requests per 500 mL")
    return out


def format_regions(rows: List[Dict[str, Any]], detail: bool = False) -> str:
    """A table of regions (or every source of one region when ``detail``)."""
    if detail and len(rows) == 1:
        r = rows[0]
        lines = [f"{r['code']}: {r['name']} ({r['kind']}{', located in ' + r['location'] if r.get('location') else ''})"]
        for key, f in r["factors"].items():
            lines.append(f"  {key:<27} {units.format_factor(f['value'])} {f['unit']} [{units.format_factor(f['low'])}-{units.format_factor(f['high'])}] ({f.get('year') or 'n/a'}, {f['origin']})")
            lines.append(f"      source: {name_source(f['source'])}")
            if f.get("licence"):
                lines.append(f"      licence: {f['licence']}")
            if f.get("note"):
                lines.append(f"      note: {f['note']}")
        return "\n".join(lines)
    head = f"{'code':<30} {'gCO2e/kWh':>9} {'PUE':>5} {'WUE':>5} {'EWIF':>6}  name / intensity source / WUE origin"
    lines = [head]
    for r in rows:
        f = r["factors"]
        ci = f["carbon_intensity_g_per_kwh"]
        lines.append(
            f"{r['code']:<30} {ci['value']:>9.1f} {f['pue']['value']:>5.2f} {f['wue_l_per_kwh']['value']:>5.2f} "
            f"{f['ewif_l_per_kwh']['value']:>6.3f}  {r['name']} / {name_source(ci['source'])} ({ci.get('year') or 'n/a'}) / WUE {f['wue_l_per_kwh']['origin']}"
        )
    return "\n".join(lines)


def _cmd_regions(args: argparse.Namespace) -> int:
    from wattprint.footprint.factors import list_regions, normalize_region, resolve_region
    from wattprint.footprint.regions import exact_hints

    query = args.query
    exact = None
    if query:
        try:
            exact = resolve_region(query).code
        except ConfigError:
            exact = None
    rows = list_regions(None) if not query else ([r for r in list_regions(None) if r["code"] == exact] if exact else list_regions(query))
    meant = exact_hints(normalize_region(query)) if query and exact is None else []
    if meant:  # UK, IRL, us-east-1: name the code first
        print(f"wattprint regions: {query!r} is not a region code; did you mean {', '.join(meant)}?", file=sys.stderr)
        rows = [r for r in list_regions(None) if r["code"] in meant] + [r for r in rows if r["code"] not in meant]
    if not rows:
        try:
            resolve_region(query)
        except ConfigError as err:
            body = str(err).split(": ", 1)[-1]  # the query is positional: no setting to name
            print(f"wattprint regions: {body}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_regions(rows, detail=exact is not None and normalize_region(query) == exact))
    return 0
