"""The report's serving figures: rows for a run's ``inference`` section, and its energy-per-request plot.

Rows (the per-run figures table): requests and tokens, J per output token,
J per request, Wh per 1,000 requests, gCO2e and mL of water per request, the
idle share, the prefill share and per-request percentiles. The plot shows each
sampled request's joules against its output tokens (at most 512 points, from
the section's ``sample``), so a run's energy per request can be read by length.

Units: joules, watt-hours, grams CO2e, millilitres, tokens.

Failure modes: none; a run without an ``inference`` section gives no rows and no points.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Tuple

from wattprint.units import as_float, format_energy, format_percent, sig_digits

__all__ = ["serving_rows", "serving_points", "draw_energy_vs_output"]


def _n(v: Any, unit: str) -> str:
    x = as_float(v)
    return "–" if x is None else f"{sig_digits(x)} {unit}"


def serving_rows(d: Mapping[str, Any]) -> List[List[str]]:
    """Figure rows ``[figure, value, basis]`` for the document's ``inference`` section (none without one)."""
    inf = d.get("inference")
    if not isinstance(inf, Mapping) or not inf.get("requests"):
        return []
    w = inf.get("weights") or {}
    basis = f"measured J split per interval by weighted tokens (prefill {w.get('prefill_token')}, decode {w.get('decode_token')})"
    rows = [
        ["requests served", f"{int(inf['requests']):,}", f"{int(inf.get('tokens_in') or 0):,} tokens in, {int(inf.get('tokens_out') or 0):,} out"],
        ["energy to requests", format_energy(as_float(inf.get("energy_j"))), basis],
        ["idle energy", format_energy(as_float(inf.get("idle_energy_j"))),
         f"{format_percent(as_float(inf.get('idle_share')))} of the measured energy: no request in flight"],
        ["energy per output token", _n(inf.get("j_per_token"), "J"), ""],
        ["energy per request", _n(inf.get("j_per_request"), "J"),
         "p50 {} · p90 {} · p99 {}".format(*(_n((inf.get("percentiles") or {}).get(k), "J") for k in ("p50_j", "p90_j", "p99_j")))],
        ["per 1,000 requests", _n(inf.get("wh_per_1000_requests"), "Wh"), "Hugging Face AI Energy Score's unit"],
        ["carbon per request", _n(inf.get("carbon_g_per_request"), "gCO2e"), "operational + embodied share"],
        ["water per request", _n(inf.get("water_ml_per_request"), "mL"), "on-site + off-site"],
    ]  # fmt: skip
    pre = inf.get("prefill")
    if isinstance(pre, Mapping) and pre.get("requests"):
        rows.append(["prefill share", format_percent(as_float(pre.get("prefill_share"))),
                     f"{pre['requests']:,} requests with a first-token time; mean TTFT {_n(pre.get('mean_ttft_s'), 's')}"])  # fmt: skip
    if inf.get("estimated_requests"):
        rows.append(["estimated", format_energy(as_float(inf.get("estimated_energy_j"))),
                     f"{inf['estimated_requests']:,} requests told after their intervals settled"])  # fmt: skip
    return rows


def serving_points(fp: Any) -> List[Tuple[float, float]]:
    """``(tokens_out, energy_j)`` of the sampled requests of a footprint (object or document)."""
    d = fp.to_dict() if hasattr(fp, "to_dict") else fp
    inf = (d or {}).get("inference") or {}
    return [(float(r[1]), float(r[2])) for r in inf.get("sample") or [] if isinstance(r, (list, tuple)) and len(r) >= 3]


def draw_energy_vs_output(ax: Any, fp: Any) -> None:
    """Scatter of energy per request against output tokens on a matplotlib axis."""
    pts = serving_points(fp)
    if not pts:
        ax.set_axis_off()
        return
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=8, alpha=0.6, color="#1f77b4")
    ax.set_xlabel("output tokens", fontsize=8)
    ax.set_ylabel("energy per request [J]", fontsize=8)
    ax.set_title(f"energy per request ({len(pts)} sampled)", fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
