"""The report's tables: per run (components, figures), across runs, and what-if.

Each function turns footprints (or :func:`~wattprint.report.what_if.what_if`
rows) into :class:`Table` objects of display strings; :mod:`wattprint.report.render`
and :mod:`wattprint.report.html` lay them out. Figures are scaled to a readable
unit by :mod:`wattprint.units`: per cell in the per-run tables (``12.4 Wh``,
``5.71 gCO2e``), per column in the comparison and what-if tables, whose headers
name the unit (``IT energy [kWh]``), so that runs compare by eye. An unknown
figure is ``–``.

Failure modes: none raised for a footprint that loads; a missing section or
figure shows as ``–`` or an empty basis. Input that is not a footprint document
(a list, a number) raises ``AttributeError``/``TypeError`` (load it with
:func:`~wattprint.report.load.load_footprints` first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from wattprint.footprint.model import COMPONENT_KINDS
from wattprint.report.load import document_of
from wattprint.report.serving import serving_rows
from wattprint.report.summary import summarize
from wattprint.report.what_if import relative_change
from wattprint.units import (
    as_float,
    column_unit,
    format_carbon,
    format_duration,
    format_energy,
    format_factor,
    format_percent,
    format_power,
    format_water,
    kwh_to_j,
    sig_digits,
)

__all__ = ["Table", "run_tables", "comparison_table", "what_if_table"]

# component kinds with their own energy column in the summary (energy_<kind>_j), "other" last
_KINDS: Tuple[str, ...] = (*COMPONENT_KINDS, "other")
_MAX_WINDOW_ROWS = 10


def _section(d: Mapping[str, Any], key: str) -> Dict[str, Any]:
    """``d[key]`` when it is a mapping, else an empty one (a footprint section may be absent)."""
    value = d.get(key)
    return dict(value) if isinstance(value, Mapping) else {}


@dataclass
class Table:
    """A titled table of strings; ``align`` holds ``"l"`` or ``"r"`` per column."""

    title: str
    headers: List[str]
    rows: List[List[str]]
    align: List[str]
    notes: List[str] = field(default_factory=list)


def _status_label(summary: Mapping[str, Any]) -> str:
    status = str(summary.get("status"))
    return f"{status.upper()} ⚠" if summary.get("flagged") else status


def run_tables(fp: Any) -> List[Table]:
    """The per-run view: a component table and a figures table."""
    d = document_of(fp)
    s = summarize(d)
    it_j = s["energy_it_j"] or 0.0
    comp_rows: List[List[str]] = []
    for c in d.get("components") or []:
        e = as_float(c.get("energy_j"))
        comp_rows.append(
            [
                str(c.get("id")),
                str(c.get("name") or c.get("kind") or ""),
                format_energy(e),
                format_percent(e / it_j if e is not None and it_j else None),
                format_power(as_float(c.get("mean_power_w"))),
                format_power(as_float(c.get("peak_power_w"))),
                ("measured" if c.get("measured") else "estimated") + f" ({c.get('source')})",
            ]
        )
    dist = _section(d, "distributed")
    kind = "Run"
    ranks = dist.get("ranks")
    if isinstance(ranks, list):
        kind = f"Job ({dist.get('ranks_reported', len(ranks))} ranks on {dist.get('nodes', '?')} node(s))"
    elif dist.get("job_run_id") and dist.get("job_run_id") != s["run_id"]:
        kind = f"Rank {dist.get('rank')} of job {dist.get('job_run_id')}:"
    title = (
        f"{kind} {s['run_id']} · project {s['project']} · {_status_label(s)} · "
        f"{format_duration(s['duration_s'])} · region {s['region']} · started {s['started_at']}"
    )
    comps = Table(
        title,
        ["component", "device", "energy", "share", "mean power", "peak power", "how"],
        comp_rows,
        ["l", "l", "r", "r", "r", "r", "l"],
    )
    factors = _section(d, "factors")

    def src(key: str) -> str:
        f = factors.get(key)
        return str(f.get("source") or "") if isinstance(f, Mapping) else ""

    fig_rows = [
        ["IT energy", format_energy(s["energy_it_j"]), f"{format_percent(s['measured_share'])} measured" if s["measured_share"] is not None else ""],
        [
            "facility energy",
            format_energy(kwh_to_j(s["energy_facility_kwh"])),
            f"PUE {format_factor(s['pue'])} ({src('pue')})" if s["pue"] is not None else "",
        ],
        [
            "carbon, operational",
            format_carbon(s["carbon_operational_kg"]),
            f"{format_factor(s['carbon_intensity_g_per_kwh'])} gCO2e/kWh ({src('carbon_intensity_g_per_kwh')})"
            if s["carbon_intensity_g_per_kwh"] is not None
            else "",
        ],
        ["carbon, embodied", format_carbon(s["carbon_embodied_kg"]), _embodied_basis(d)],
        ["carbon, total", format_carbon(s["carbon_total_kg"]), ""],
        [
            "water, on-site",
            format_water(s["water_onsite_l"]),
            f"WUE {format_factor(s['wue_l_per_kwh'])} L/kWh ({src('wue_l_per_kwh')})" if s["wue_l_per_kwh"] is not None else "",
        ],
        [
            "water, off-site",
            format_water(s["water_offsite_l"]),
            f"EWIF {format_factor(s['ewif_l_per_kwh'])} L/kWh ({src('ewif_l_per_kwh')})" if s["ewif_l_per_kwh"] is not None else "",
        ],
        ["water, total", format_water(s["water_total_l"]), ""],
    ]
    for key in ("steps", "samples", "tokens"):
        if s[key]:
            fig_rows.append([key, f"{s[key]:,}", "counted with Tracker.step()"])
    for key, label in (("j_per_step", "energy per step"), ("j_per_sample", "energy per sample"), ("j_per_token", "energy per token")):
        if s[key] is not None:
            fig_rows.append([label, f"{sig_digits(s[key])} J", ""])
    fig_rows += _compute_rows(d, s)
    fig_rows += _disclosure_rows(d, s)  # CUE, market-based scope 2, the water's source, the task stage (issue 14)
    if s["forecast_energy_j"] is not None:
        fig_rows.append(
            ["forecast (final)", format_energy(s["forecast_energy_j"]), f"at {format_percent(s['forecast_progress'])} of the steps, linear"]
        )
    fig_rows += serving_rows(d)  # a serving run's request figures (issue 13)
    fig_rows += _window_rows(d)
    figures = Table("Footprint", ["figure", "value", "basis"], fig_rows, ["l", "r", "l"])
    if s["flagged"]:
        figures.notes.append(
            f"⚠ status {s['status']}: "
            + ("the run did not finish normally; figures cover what was measured." if s["status"] == "partial" else "the run failed; figures cover what ran.")
        )
    for n in d.get("notes") or []:
        figures.notes.append(f"note: {n}")
    if s["measured"] in ("estimated", "mixed"):
        figures.notes.append("estimated components are modelled, not measured: read them as ±50%.")
    return [comps, figures]


def _compute_rows(d: Mapping[str, Any], s: Mapping[str, Any]) -> List[List[str]]:
    """FLOPs, MFU and carbon per exaFLOP (CCI), when the run has them."""
    work = _section(d, "work")
    rows = []
    flops = as_float(s.get("flops"))
    if flops:
        rows.append(["FLOPs", f"{flops:.3g}".replace("e+", "e"), str(work.get("flops_source") or "counted with Tracker.step(flops=)")])
    if as_float(s.get("mfu")) is not None:
        rows.append(["MFU", format_percent(as_float(s.get("mfu"))), "FLOPs / duration / peak FLOP/s of the GPUs"])
    cci = as_float(s.get("cci_g_per_eflop"))
    if cci is not None:
        rows.append(["carbon per exaFLOP (CCI)", f"{sig_digits(cci)} gCO2e/EFLOP", "(operational + embodied) / (FLOPs / 1e18)"])
    return rows


def _disclosure_rows(d: Mapping[str, Any], s: Mapping[str, Any]) -> List[List[str]]:
    """CUE; the market-based scope 2 (only when given); the water's source and the task stage (when given)."""
    carbon, rows = _section(d, "carbon"), []
    cue = as_float(carbon.get("cue_kg_per_kwh"))
    if cue is not None:
        rows.append(["CUE", f"{sig_digits(cue)} kgCO2e/kWh", "operational carbon / IT energy"])
    market = as_float(carbon.get("scope2_market_kg"))
    if market is not None:
        rows.append(["carbon, scope 2 market-based", format_carbon(market),
                     f"{carbon.get('scope2_market_basis') or 'market-based'}; not netted into the figures above"])
    source = _section(d, "water").get("source")
    if source and source != "unknown":
        rows.append(["water source", str(source), "as given (water_source)"])
    if d.get("task_stage"):
        rows.append(["task stage", str(d["task_stage"]), "as given (task_stage)"])
    return rows


def _column(values: Sequence[Optional[float]], scale: float = 1.0) -> List[str]:
    """A numeric column's cells with one number of decimals (three significant figures of its
    largest value), so that ``0.0100`` stands beside ``0.0080``; unknown is ``–``. A value too small
    to show at those decimals keeps its own three significant figures instead of reading ``0``."""
    xs = [None if v is None else v / scale for v in values]
    top = max((abs(x) for x in xs if x is not None and math.isfinite(x) and x != 0), default=None)
    if top is None:
        return ["–" if x is None else sig_digits(x) for x in xs]
    decimals = max(0, 2 - math.floor(math.log10(top)))
    out = []
    for x in xs:
        if x is None:
            out.append("–")
        elif x == 0 or abs(x) >= 10.0**-decimals or not math.isfinite(x):
            out.append(f"{x:,.{decimals}f}")
        else:
            out.append(sig_digits(x))
    return out


def _unit(quantity: str, sums: Sequence[Mapping[str, Any]], cols: Sequence[str]) -> Tuple[str, float]:
    """One unit for a group of columns (all energy columns in J or all in Wh, never mixed)."""
    return column_unit(quantity, (s[c] for s in sums for c in cols))


def _window_rows(d: Mapping[str, Any]) -> List[List[str]]:
    """Rows for the run's windows: totals per name when the footprint has them, else the raw windows."""
    totals = [w for w in d.get("window_totals") or [] if isinstance(w, Mapping)]
    raw = [w for w in d.get("windows") or [] if isinstance(w, Mapping)]
    shown = totals or raw
    rows = []
    for w in shown[:_MAX_WINDOW_ROWS]:
        count = w.get("count") if totals else None
        label = f"window {w.get('name')}" + (f" (×{count})" if isinstance(count, int) and count > 1 else "")
        rows.append([label, format_energy(as_float(w.get("energy_j"))), format_duration(as_float(w.get("duration_s")))])
    if len(shown) > _MAX_WINDOW_ROWS:
        rows.append([f"… {len(shown) - _MAX_WINDOW_ROWS} more {'window names' if totals else 'windows'}", "", ""])
    return rows


def _embodied_basis(d: Mapping[str, Any]) -> str:
    section = _section(d, "embodied")
    devices = [x for x in section.get("devices") or [] if isinstance(x, dict)]
    bits = [
        f"{x.get('model')}: {format_carbon(as_float(x.get('embodied_kgco2e')))} over {format_factor(x.get('lifetime_years'))} y"
        for x in devices
        if as_float(x.get("embodied_kgco2e")) is not None and as_float(x.get("lifetime_years")) is not None
    ]
    missing = section.get("missing") or []
    if missing:
        bits.append("not known for " + ", ".join(map(str, missing)))
    if bits:
        return "; ".join(bits)
    return "hardware share over the run" if _section(d, "carbon").get("embodied_kg") is not None else "not known"


def comparison_table(footprints: Sequence[Any]) -> Table:
    """One row per run; each column in one unit so runs compare by eye."""
    sums = [summarize(fp) for fp in footprints]
    kinds = [k for k in _KINDS if any(s[f"energy_{k}_j"] is not None for s in sums)]
    e_cols = ["energy_it_j"] + [f"energy_{k}_j" for k in kinds]
    c_cols = ["carbon_operational_kg", "carbon_embodied_kg", "carbon_total_kg"]
    w_cols = ["water_onsite_l", "water_offsite_l", "water_total_l"]
    e_unit, c_unit, w_unit = _unit("energy_j", sums, e_cols), _unit("carbon_kg", sums, c_cols), _unit("water_l", sums, w_cols)
    headers = ["run", "status", "duration", "region"]
    headers += [f"IT energy [{e_unit[0]}]"] + [f"{k.upper()} [{e_unit[0]}]" for k in kinds]
    headers += ["measured"]
    headers += [f"CO2e op [{c_unit[0]}]", f"CO2e emb [{c_unit[0]}]", f"CO2e total [{c_unit[0]}]"]
    headers += [f"water on-site [{w_unit[0]}]", f"water off-site [{w_unit[0]}]", f"water total [{w_unit[0]}]"]
    headers += ["J/token"]
    columns: List[List[str]] = [_column([s[c] for s in sums], e_unit[1]) for c in e_cols]
    columns.append([format_percent(s["measured_share"]) for s in sums])
    columns += [_column([s[c] for s in sums], c_unit[1]) for c in c_cols]
    columns += [_column([s[c] for s in sums], w_unit[1]) for c in w_cols]
    columns.append(_column([s["j_per_token"] for s in sums]))
    rows = []
    for i, s in enumerate(sums):
        rows.append([str(s["run_id"]), _status_label(s), format_duration(s["duration_s"]), str(s["region"])] + [col[i] for col in columns])
    table = Table(f"Comparison of {len(sums)} runs" if len(sums) != 1 else "Summary of 1 run", headers, rows, ["l", "l", "r", "l"] + ["r"] * (len(headers) - 4))
    flagged = [s["run_id"] for s in sums if s["flagged"]]
    if flagged:
        table.notes.append(f"⚠ partial or failed (figures cover only what was measured): {', '.join(map(str, flagged))}")
    if len(sums) > 1:
        base = sums[0]
        for s in sums[1:]:
            rel_e = relative_change(s["energy_it_j"], base["energy_it_j"])
            rel_c = relative_change(s["carbon_total_kg"], base["carbon_total_kg"])
            if rel_e is not None or rel_c is not None:
                table.notes.append(
                    f"{s['run_id']} vs {base['run_id']}: energy {format_percent(rel_e, signed=True)}, carbon {format_percent(rel_c, signed=True)}"
                )
    return table


def what_if_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """A what-if table (rows from :func:`what_if` for one run)."""
    c_unit = column_unit("carbon_kg", (r.get("carbon_total_kg") for r in rows))
    w_unit = column_unit("water_l", (r.get("water_total_l") for r in rows))
    headers = [
        "scenario",
        "PUE",
        "gCO2e/kWh",
        f"CO2e op [{c_unit[0]}]",
        f"CO2e total [{c_unit[0]}]",
        "Δ CO2e",
        "WUE L/kWh",
        "EWIF L/kWh",
        f"water on-site [{w_unit[0]}]",
        f"water off-site [{w_unit[0]}]",
        f"water total [{w_unit[0]}]",
        "Δ water",
    ]

    def col(key: str, unit: Optional[Tuple[str, float]] = None) -> List[str]:
        vals = [as_float(r.get(key)) for r in rows]
        return _column(vals, unit[1]) if unit else ["–" if v is None else format_factor(v) for v in vals]

    def delta(key: str) -> List[str]:
        return ["" if r.get("recorded") else format_percent(r.get(key), signed=True) for r in rows]

    columns = [
        [str(r.get("scenario")) for r in rows],
        col("pue"),
        _column([as_float(r.get("carbon_intensity_g_per_kwh")) for r in rows]),
        col("carbon_operational_kg", c_unit),
        col("carbon_total_kg", c_unit),
        delta("carbon_vs_recorded_rel"),
        col("wue_l_per_kwh"),
        col("ewif_l_per_kwh"),
        col("water_onsite_l", w_unit),
        col("water_offsite_l", w_unit),
        col("water_total_l", w_unit),
        delta("water_vs_recorded_rel"),
    ]
    out = [[c[i] for c in columns] for i in range(len(rows))]
    run_id = rows[0].get("run_id") if rows else ""
    it = rows[0].get("energy_it_kwh") if rows else None
    table = Table(
        f"What if run {run_id} had run elsewhere (same measured IT energy, {format_energy(kwh_to_j(as_float(it)))})",
        headers,
        out,
        ["l"] + ["r"] * (len(headers) - 1),
    )
    others = [r for r in rows if not r.get("recorded")]
    spans: Tuple[Tuple[str, str, Callable[[Optional[float]], str]], ...] = (
        ("carbon_total_kg", "carbon", format_carbon),
        ("water_total_l", "water", format_water),
    )
    for key, label, fmt in spans:
        vals: List[Tuple[Mapping[str, Any], float]] = []
        for r in others:
            v = as_float(r.get(key))
            if v is not None:
                vals.append((r, v))
        if len(vals) >= 2:
            hi = max(vals, key=lambda rv: rv[1])
            lo = min(vals, key=lambda rv: rv[1])
            if lo[1] and hi[1] != lo[1]:
                table.notes.append(
                    f"{label}: {hi[0]['scenario']} {fmt(hi[1])} is {hi[1] / lo[1]:.2f}× {lo[0]['scenario']} {fmt(lo[1])} "
                    f"({format_percent(hi[1] / lo[1] - 1, signed=True)})"
                )
    return table


