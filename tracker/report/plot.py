"""Pictures of footprints: the power timeline and the footprint's breakdown.

For each run, one row: on the left the power of each component over time
(from the footprint's ``timeline``), with the run's windows shaded and sensor
gaps hatched; on the right the breakdown of the footprint (energy by
component, carbon operational and embodied, water on-site and off-site), each
as shares of its total with the total written beside it::

    from wattprint import report
    from wattprint.report import plot
    fps = report.load_footprints(["wattprint-runs"]).footprints
    plot.save_png(fps, "power.png")

Units: power in W, time in s (the axis switches to min or h for long runs),
energy J, carbon kgCO2e, water L; labels use the :mod:`wattprint.units`
formatters. The HTML page that embeds these figures is
:mod:`wattprint.report.html` (``html_page`` and ``save_html`` stay importable
from here).

matplotlib is an optional extra (``pip install 'wattprint[plot]'``); it is
imported inside the functions, and only its object-oriented API is used (no
pyplot, no global backend change), so plotting is safe in any thread.

Failure modes: :class:`~wattprint.errors.PlotUnavailable` when matplotlib is
not installed; ``ValueError`` for an empty list of footprints; ``OSError``
when the file cannot be written (no partial file is left).
"""

from __future__ import annotations

import io
import math
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from wattprint._io import visible
from wattprint.errors import PlotUnavailable
from wattprint.footprint.model import Footprint
from wattprint.report.load import as_footprint
from wattprint.report.serving import draw_energy_vs_output, serving_points
from wattprint.report.summary import summarize
from wattprint.units import as_float, format_carbon, format_duration, format_energy, format_water

__all__ = [
    "PlotUnavailable", "MAX_RUNS", "require_matplotlib", "power_series", "breakdown",
    "figure_png", "save_png", "plot_format", "PLOT_FORMATS",
]  # html_page and save_html: see __getattr__ (they live in wattprint.report.html)

MAX_RUNS = 8
PLOT_FORMATS = ("png", "svg", "pdf")
_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def __getattr__(name: str) -> Any:
    """``html_page`` and ``save_html`` moved to :mod:`wattprint.report.html`; still importable from here."""
    if name in ("html_page", "save_html"):
        from wattprint.report import html

        return getattr(html, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def require_matplotlib() -> Any:
    """The matplotlib ``Figure`` class. Raises :class:`PlotUnavailable` without matplotlib."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError as err:
        raise PlotUnavailable("plots need matplotlib: pip install 'wattprint[plot]'") from err
    return Figure


def _plain(text: Any) -> str:
    """Text drawn as written: a ``$`` would start matplotlib's mathtext (``cost $5 vs $6``, or a
    crash on ``$\\foo$``), so every ``$`` in a name is escaped; control characters and lone
    surrogates (which FreeType refuses: the whole plot failed) are shown as escapes."""
    return visible(str(text)).replace("$", r"\$")


def power_series(fp: Any) -> Tuple[List[float], Dict[str, List[float]]]:
    """Seconds since start and each component's mean power (W, NaN where unknown).

    ``power_w[k]`` is the mean power over ``(t_s[k-1], t_s[k]]``; it is
    recomputed from the cumulative energies when the timeline lacks it.
    """
    tl = as_footprint(fp).timeline or {}
    t = [float(x) for x in tl.get("t_s") or []]
    power: Dict[str, List[float]] = {}
    given = tl.get("power_w") or {}
    for cid, energies in (tl.get("energy_j") or {}).items():
        series = given.get(cid)
        if not series or len(series) != len(t):
            series = [None] + [
                (energies[k] - energies[k - 1]) / (t[k] - t[k - 1]) if t[k] > t[k - 1] else None for k in range(1, len(t))
            ]
        power[cid] = [float(v) if v is not None else math.nan for v in series]
    return t, power


def breakdown(fp: Any) -> List[Tuple[str, float, List[Tuple[str, float]]]]:
    """``[(figure, total, [(part, value), ...]), ...]`` for energy (J), carbon (kg) and water (L)."""
    d = as_footprint(fp).to_dict()
    s = summarize(d)
    energy_parts = [(str(c.get("id")), as_float(c.get("energy_j")) or 0.0) for c in d.get("components") or [] if isinstance(c, Mapping)]
    carbon_parts = [("operational", s["carbon_operational_kg"] or 0.0)]
    if s["carbon_embodied_kg"] is not None:  # unknown embodied carbon is not drawn as 0 %: see _draw_breakdown
        carbon_parts.append(("embodied", s["carbon_embodied_kg"]))
    water_parts = [("on-site", s["water_onsite_l"] or 0.0), ("off-site", s["water_offsite_l"] or 0.0)]
    return [
        ("energy", s["energy_it_j"] or 0.0, energy_parts),
        ("carbon", s["carbon_total_kg"] if s["carbon_total_kg"] is not None else sum(v for _, v in carbon_parts), carbon_parts),
        ("water", s["water_total_l"] if s["water_total_l"] is not None else sum(v for _, v in water_parts), water_parts),
    ]


def _time_unit(span_s: float) -> Tuple[str, float]:
    if span_s > 2 * 3600:
        return "h", 3600.0
    if span_s > 180:
        return "min", 60.0
    return "s", 1.0


def _span_s(fp: Footprint) -> float:
    """The run's time span, seconds (the timeline's end or the duration, whichever is longer)."""
    t = (fp.timeline or {}).get("t_s") or []
    try:
        end = float(t[-1]) if t else 0.0
    except (TypeError, ValueError):
        end = 0.0
    try:
        duration = float(fp.to_dict().get("duration_s") or 0.0)
    except (TypeError, ValueError):
        duration = 0.0
    return max(end, duration)


def _draw_power(ax: Any, fp: Footprint, colors: Dict[str, str], time_unit: Tuple[str, float]) -> None:
    d = fp.to_dict()
    try:
        t, power = power_series(fp)
    except (TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError):  # a non-numeric timeline: drawn as none
        t, power = [], {}
    if len(t) < 2 or not power:
        ax.text(0.5, 0.5, "no timeline in this footprint", ha="center", va="center", transform=ax.transAxes, color="#666")
        ax.set_yticks([])
        ax.set_xticks([])
        return
    unit, size = time_unit  # one unit for every row of the figure, so rows compare by eye
    ts = [x / size for x in t]
    total = [0.0] * len(t)
    known = [False] * len(t)
    for cid, series in power.items():
        comp: Mapping[str, Any] = next((c for c in d.get("components") or [] if c.get("id") == cid), {})
        label = _plain(cid) + ("" if comp.get("measured", True) else " (estimated)")
        ax.step(ts, series, where="pre", color=colors.get(cid), lw=1.4, label=label)
        for k, v in enumerate(series):
            if not math.isnan(v):
                total[k] += v
                known[k] = True
    if len(power) > 1:
        ax.step(ts, [v if ok else math.nan for v, ok in zip(total, known, strict=True)], where="pre", color="black", lw=1.0, ls="--", label="total")
    windows = d.get("windows") or []
    for i, w in enumerate(windows):
        start = w.get("start_s")
        dur = w.get("duration_s")
        if start is None or dur is None:
            continue
        lo, hi = start / size, (start + dur) / size
        min_w = (ts[-1] - ts[0]) * 0.006  # a 0.1 s window in a long run still shows as a band under its label
        if hi - lo < min_w:
            lo, hi = (lo + hi - min_w) / 2, (lo + hi + min_w) / 2
        ax.axvspan(lo, hi, color="#9ecae1", alpha=0.45 if dur / size < min_w else 0.25, lw=0)
        if len(windows) <= 12:
            ax.text(  # staggered, so that labels of neighbouring windows do not overlap
                (start + dur / 2) / size, 0.98 - 0.07 * (i % 2), _plain(w.get("name")), transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=7, color="#08519c", clip_on=True,
            )
    for g in d.get("gaps") or []:
        ax.axvspan(float(g.get("start_s") or 0.0) / size, float(g.get("end_s") or 0.0) / size, facecolor="none", edgecolor="#d62728", hatch="//", lw=0)
    ax.set_xlim(ts[0], ts[-1] if ts[-1] > ts[0] else ts[0] + 1)
    peak = max((v for series in power.values() for v in series if not math.isnan(v)), default=0.0)
    peak = max(peak, max((v for v, ok in zip(total, known, strict=True) if ok), default=0.0) if len(power) > 1 else 0.0)
    ax.set_ylim(0, peak * 1.2 if peak > 0 else 1.0)  # headroom for the window labels
    ax.set_xlabel(f"time since start [{unit}]")
    ax.set_ylabel("power [W]")
    ax.grid(alpha=0.3, lw=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=min(5, len(power) + 1), fontsize=7, frameon=False)


def _draw_breakdown(ax: Any, fp: Footprint, colors: Dict[str, str]) -> None:
    rows = breakdown(fp)
    fixed = {"operational": "#636363", "embodied": "#bdbdbd", "on-site": "#3182bd", "off-site": "#9ecae1"}
    fmt = {"energy": format_energy, "carbon": format_carbon, "water": format_water}
    for y, (name, total, parts) in enumerate(reversed(rows)):
        left = 0.0
        denom = sum(v for _, v in parts)
        for part, value in parts:
            share = value / denom if denom > 0 else 0.0
            if share <= 0:
                continue
            ax.barh(y, share, left=left, color=colors.get(part, fixed.get(part, "#999")), edgecolor="white", lw=0.5)
            if name == "carbon" and len(parts) == 1:  # embodied carbon not known: no share to state
                ax.text(left + share / 2, y, "operational\n(embodied not known)", ha="center", va="center", fontsize=6.5, color="white")
            elif share >= 0.18:
                short = part if len(part) <= 11 * share / 0.25 else part[: max(3, int(11 * share / 0.25) - 1)] + "…"
                ax.text(left + share / 2, y, f"{_plain(short)}\n{share:.0%}", ha="center", va="center", fontsize=6.5, color="white" if part not in ("embodied", "off-site") else "black")
            left += share
        ax.text(1.02, y, fmt[name](total if denom > 0 else (total or None)), va="center", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in reversed(rows)])
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 0.5, 1])
    ax.set_xticklabels(["0", "50%", "100%"])
    ax.set_title("breakdown", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def plot_format(path: str) -> str:
    """The image format for ``path`` from its extension: ``png``, ``svg`` or ``pdf``.

    Raises:
        ValueError: any other extension (a ``.jpg`` would otherwise hold PNG bytes).
    """
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if ext not in PLOT_FORMATS:
        raise ValueError(f"{path!r}: a plot is written as {', '.join('.' + f for f in PLOT_FORMATS)} (chosen by the file's extension)")
    return ext


def figure_png(footprints: Sequence[Any], *, dpi: int = 110, max_runs: int = MAX_RUNS, fmt: str = "png") -> bytes:
    """Image bytes (PNG unless ``fmt`` is ``svg`` or ``pdf``): one row per run (at most ``max_runs``),
    power timeline and breakdown, every row on one time axis unit.

    Raises:
        PlotUnavailable: matplotlib is missing. ValueError: no footprints, or an unknown ``fmt``.
    """
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(PLOT_FORMATS)}, got {fmt!r}")
    Figure = require_matplotlib()
    fps = [as_footprint(f) for f in footprints][:max_runs]
    if not fps:
        raise ValueError("figure_png: give at least one footprint")
    time_unit = _time_unit(max(_span_s(fp) for fp in fps))
    serving = any(serving_points(fp) for fp in fps)  # a serving run adds energy per request against output length
    ratios = [3.0, 1.25, 1.5] if serving else [3.0, 1.25]
    fig = Figure(figsize=(15 if serving else 11, 3.3 * len(fps)), dpi=dpi, layout="constrained")
    axes = fig.subplots(len(fps), len(ratios), squeeze=False, gridspec_kw={"width_ratios": ratios})
    for i, fp in enumerate(fps):
        d = fp.to_dict()
        ids = [str(c.get("id")) for c in d.get("components") or []]
        colors = {cid: _COLORS[k % len(_COLORS)] for k, cid in enumerate(ids)}
        status = str(d.get("status"))
        flag = f"  ⚠ {status.upper()}" if status in ("partial", "failed") else ""
        title = _plain(
            f"{d.get('run_id')} · {d.get('project')} · {format_duration(d.get('duration_s'))} · "
            f"{format_energy((d.get('energy') or {}).get('it_j'))} · region {d.get('region')}{flag}"
        )
        axes[i][0].set_title(title, fontsize=9, loc="left", color="#b30000" if flag else "black")
        _draw_power(axes[i][0], fp, colors, time_unit)
        _draw_breakdown(axes[i][1], fp, colors)
        if serving:
            draw_energy_vs_output(axes[i][2], fp)
    buf = io.BytesIO()
    metadata = {"Software": "wattprint"} if fmt == "png" else {"Creator": "wattprint"}
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()


def save_png(footprints: Sequence[Any], path: str, *, dpi: int = 110, max_runs: int = MAX_RUNS) -> str:
    """Write :func:`figure_png` to ``path`` (atomically) in the format its extension names
    (:func:`plot_format`: ``.png``, ``.svg`` or ``.pdf``) and return ``path``.

    Raises:
        ValueError: another extension (nothing is written).
    """
    data = figure_png(footprints, dpi=dpi, max_runs=max_runs, fmt=plot_format(path))
    from wattprint._io import atomic_write_bytes

    atomic_write_bytes(path, data)
    return path
