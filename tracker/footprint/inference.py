"""The footprint's ``inference`` section: a serving run's figures per request and per token.

Input: the raw totals of the run's request ledger (``wattprint.run.requests``):
joules given to requests per component, idle joules, measured joules, token
counts, a bounded sample of per-request energies. Carbon and water go through
:func:`wattprint.footprint.accounting.account`, the run's one accounting, called
on the requests' joules per component (operational carbon, on-site and
off-site water, and their bounds); embodied carbon is the run's, shared in
proportion to energy (a request gets ``embodied × its joules / measured
joules``), since concurrent requests share one device's lifetime.

Figures (units in the names): ``j_per_token`` (per output token),
``j_per_request``, ``wh_per_1000_requests`` (Hugging Face AI Energy Score's
unit), ``carbon_g_per_request``, ``water_ml_per_request``, ``tokens_per_j``,
``idle_share`` (idle joules / measured joules), ``prefill``/``decode`` split
for requests with a first-token time, percentiles of per-request joules
(``p50``, ``p90``, ``p99``, over a uniform sample of at most 4,096 requests), and
``sample``: up to 512 of those as ``[tokens_in, tokens_out, energy_j]``.
``energy_j`` is the measured energy given to requests (Σ per request, without
estimates); ``estimated_energy_j`` is what late requests were given on top,
at the run's mean rate. Conservation: ``energy_j + idle_energy_j =
measured_energy_j``, per component (``components``).

Failure modes: none for well-formed input; a figure whose denominator is 0 is ``None``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from wattprint.footprint.accounting import account
from wattprint.units import J_PER_KWH

__all__ = ["inference_section", "per_joule", "percentile", "energy_vs_output", "PERCENTILES", "SECTION_SAMPLE"]

PERCENTILES = (50, 90, 99)
SECTION_SAMPLE = 512  # sampled requests kept in the section ([tokens_in, tokens_out, energy_j]), for plots
_J_PER_WH = J_PER_KWH / 1000.0


def _div(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """The ``q``-th percentile (0-100) of ``values``, linear between ranks; ``None`` when empty."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _with_energy(components: Sequence[Mapping[str, Any]], energy: Mapping[str, float]) -> List[Dict[str, Any]]:
    return [dict(c, energy_j=float(energy.get(str(c.get("id")), 0.0))) for c in components]


def per_joule(components: Sequence[Mapping[str, Any]], factors: Any, live: Any = None) -> Dict[str, Any]:
    """Per joule of each component, from :func:`account` on 1 J of it (the accounting is linear in joules):
    operational carbon (g) and water (mL: total, on-site, off-site), each with its low/high bound."""
    carbon: Dict[str, float] = {}
    water: Dict[str, float] = {}
    onsite: Dict[str, float] = {}
    offsite: Dict[str, float] = {}
    bounds: Dict[str, Dict[str, List[float]]] = {}
    for c in components:
        cid = str(c.get("id"))
        acc = account(components=[dict(c, energy_j=1.0)], duration_s=0.0, work={}, factors=factors, live=live)
        carbon[cid] = acc["carbon"]["operational_kg"] * 1000.0
        water[cid] = acc["water"]["total_l"] * 1000.0
        onsite[cid] = acc["water"]["onsite_l"] * 1000.0
        offsite[cid] = acc["water"]["offsite_l"] * 1000.0
        b = acc["bounds"]
        bounds[cid] = {"energy_j": list(b["energy.it_j"]), "carbon_g": [x * 1000.0 for x in b["carbon.operational_kg"]],
                       "water_ml": [x * 1000.0 for x in b["water.total_l"]]}  # fmt: skip
    n = len(components) or 1
    return {"carbon_g_per_j": carbon, "water_ml_per_j": water, "onsite_water_ml_per_j": onsite,
            "offsite_water_ml_per_j": offsite, "bounds_per_j": bounds,
            "mean_carbon_g_per_j": sum(carbon.values()) / n, "mean_water_ml_per_j": sum(water.values()) / n}  # fmt: skip


def inference_section(raw: Mapping[str, Any], components: Sequence[Mapping[str, Any]], doc: Mapping[str, Any],
                      factors: Any, live: Any = None) -> Dict[str, Any]:  # fmt: skip
    """The ``inference`` section from the request ledger's ``raw`` totals and the run's ``doc``."""
    n = int(raw.get("requests") or 0)
    tin, tout = int(raw.get("tokens_in") or 0), int(raw.get("tokens_out") or 0)
    given: Mapping[str, float] = raw.get("energy_by_component_j") or {}
    idle: Mapping[str, float] = raw.get("idle_j") or {}
    measured: Mapping[str, float] = raw.get("measured_j") or {}
    energy_j = sum(given.values())
    estimated_j = float(raw.get("estimated_energy_j") or 0.0)
    idle_j, measured_j = sum(idle.values()), sum(measured.values())
    all_j = energy_j + estimated_j
    acc = account(components=_with_energy(components, given), duration_s=0.0, work={}, factors=factors, live=live)
    coef = per_joule(components, factors, live) if estimated_j else None
    op_g = acc["carbon"]["operational_kg"] * 1000.0
    water_l = acc["water"]["total_l"]
    if coef is not None:
        op_g += estimated_j * coef["mean_carbon_g_per_j"]
        water_l += estimated_j * coef["mean_water_ml_per_j"] / 1000.0
    run_emb_kg = (doc.get("carbon") or {}).get("embodied_kg")
    emb_g = run_emb_kg * 1000.0 * all_j / measured_j if run_emb_kg and measured_j > 0 else 0.0
    b = acc["bounds"]
    e_lo, e_hi = b["energy.it_j"]
    sample = [row[0] for row in raw.get("sample") or []]
    split_n = int(raw.get("split_requests") or 0)
    pre_j, dec_j = float(raw.get("prefill_energy_j") or 0.0), float(raw.get("decode_energy_j") or 0.0)
    section: Dict[str, Any] = {
        "requests": n,
        "tokens_in": tin,
        "tokens_out": tout,
        "energy_j": energy_j,
        "idle_energy_j": idle_j,
        "measured_energy_j": measured_j,
        "estimated_energy_j": estimated_j,
        "estimated_requests": int(raw.get("estimated_requests") or 0),
        "idle_share": _div(idle_j, measured_j),
        "j_per_token": _div(all_j, tout),
        "j_per_input_token": _div(all_j, tin),
        "tokens_per_j": _div(float(tout), all_j),
        "j_per_request": _div(all_j, n),
        "wh_per_1000_requests": _div(all_j / _J_PER_WH * 1000.0, n),
        "carbon_g_per_request": _div(op_g + emb_g, n),
        "operational_carbon_g_per_request": _div(op_g, n),
        "embodied_carbon_g_per_request": _div(emb_g, n),
        "water_ml_per_request": _div(water_l * 1000.0, n),
        "onsite_water_ml_per_request": _div(acc["water"]["onsite_l"] * 1000.0, n),
        "offsite_water_ml_per_request": _div(acc["water"]["offsite_l"] * 1000.0, n),
        "percentiles": {f"p{q}_j": percentile(sample, q) for q in PERCENTILES},
        "percentiles_sample": len(sample),
        "mean_duration_s": _div(float(raw.get("duration_s") or 0.0), n),
        "sample": [[row[1], row[2], row[0]] for row in (raw.get("sample") or [])[:SECTION_SAMPLE]],
        "prefill": None,
        "components": {
            cid: {"energy_j": float(given.get(cid, 0.0)), "idle_energy_j": float(idle.get(cid, 0.0)),
                  "measured_energy_j": float(measured.get(cid, 0.0)), "job_share": _job_share(components, cid)}
            for cid in measured
        },  # fmt: skip
        "basis": "the devices' measured energy (node readings); with attribution='job' the run's energy_j may be the "
                 "job's share of a shared device: components.<id>.job_share",
        "bounds": {
            "j_per_request": [e_lo / n, e_hi / n] if n else None,
            "j_per_token": [e_lo / tout, e_hi / tout] if tout else None,
            "operational_carbon_g_per_request": [x * 1000.0 / n for x in b["carbon.operational_kg"]] if n else None,
            "water_ml_per_request": [x * 1000.0 / n for x in b["water.total_l"]] if n else None,
        },
        "weights": {"prefill_token": raw.get("prefill_token_weight"), "decode_token": raw.get("decode_token_weight")},
        "retention_s": raw.get("retention_s"),
        "unfinished_requests": int(raw.get("unfinished_requests") or 0),
        "pending_requests": int(raw.get("pending_requests") or 0) + int(raw.get("open_requests") or 0),
        "by_model": raw.get("by_model") or {},
        "method": "per sampler interval, measured joules split among active requests by weighted tokens; idle = uncovered time",
    }
    if split_n:
        section["prefill"] = {
            "requests": split_n,
            "prefill_energy_j": pre_j,
            "decode_energy_j": dec_j,
            "prefill_share": _div(pre_j, pre_j + dec_j),
            "mean_ttft_s": _div(float(raw.get("ttft_s") or 0.0), split_n),
        }
    return section


def _job_share(components: Sequence[Mapping[str, Any]], cid: str) -> Optional[float]:
    """The run's job share of a component (its ``energy_j`` / ``node_energy_j``), ``None`` when not attributed."""
    for c in components:
        if str(c.get("id")) == cid and c.get("node_energy_j"):
            return float(c.get("energy_j") or 0.0) / float(c["node_energy_j"])
    return None


def energy_vs_output(section: Mapping[str, Any]) -> List[List[float]]:
    """``[[tokens_out, energy_j], ...]`` of the section's sampled requests (for the report's plot)."""
    return [[row[1], row[2]] for row in section.get("sample") or [] if len(row) >= 3]
