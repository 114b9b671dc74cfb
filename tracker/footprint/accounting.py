"""Footprint accounting: from components' joules to energy, carbon, water and work figures.

With IT energy ``E_it`` (kWh, the sum of the components):

- facility energy ``E_fac = E_it × PUE``
- operational carbon ``C_op = E_fac × CI`` (CI in gCO2e/kWh; with a live time series,
  ``Σ_k ΔE_fac,k × CI_k`` over the timeline's intervals, and the reported intensity is
  the energy-weighted mean, so ``C_op = E_fac × CI`` still holds)
- on-site water ``W_on = E_it × WUE`` (WUE is per kWh of IT energy, as The Green Grid defines it)
- off-site water ``W_off = E_fac × EWIF`` (Li et al. 2023)
- embodied carbon ``C_emb = Σ_devices embodied_kg × duration / lifetime`` for the GPUs
  (and server CPUs) actually used, matched by name against the bundled tables
- work: J per step / sample / token; FLOPs from the user or ``6·N·D``;
  ``MFU = FLOP / duration / Σ peak FLOP/s``; ``CCI = (C_op + C_emb) g / (FLOP / 1e18)``.
- CUE ``= C_op / E_it`` (kgCO2e per kWh of IT energy, The Green Grid; equals ``PUE × CI``).
- carbon by scope (GHG Protocol): scope 2 location-based ``= C_op``; scope 2 market-based
  ``= E_fac × (1 − renewable_share) × (supplier factor, else the location CI)``, present only
  when a supplier factor or a renewable share is given, never netted into ``C_op``;
  scope 3 embodied ``= C_emb``. The water's ``source`` and the run's ``task_stage`` are
  carried as given (default ``unknown`` / ``None``).

Bounds: low/high for every figure from the components' uncertainty (``uncertainty_rel``:
NVML counters about ±5 %, estimates ±50 %), the factors' ranges and the embodied
table's low/high and the 3–6 year lifetime range.

:func:`account` is called about once a second for live footprints: it reads no file
(the tables are cached) and its cost is linear in the timeline's bounded length.
Given the live grid snapshot (``live=``) it is pure: it reads no mutable state.

Failure modes: none by design for well-formed components (missing figures become
``None``, unknown devices are listed in ``embodied.missing``); a component without
``energy_j`` counts as 0 J.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import functools
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from wattprint.footprint.factors import LIVE_REL_RANGE, Factor, Factors, LiveReadings, resolve_factors
from wattprint.footprint.factor_options import withdrawal_figures
from wattprint.footprint.hardware import (
    DEFAULT_LIFETIME_YEARS,
    CpuSpec,
    lookup_accelerator,
    lookup_cpu,
)
from wattprint.footprint.schema import footprint_schema
from wattprint.footprint.scopes import market_factors, scopes
from wattprint.footprint.scopes import pair as _pair
from wattprint.units import J_PER_KWH, SECONDS_PER_YEAR

__all__ = [
    "Factor", "Factors", "LiveReadings", "resolve_factors", "account", "embodied", "peak_flops", "Embodied",
    "footprint_schema", "J_PER_KWH", "SECONDS_PER_YEAR", "LIFETIME_RANGE_YEARS",
]

LIFETIME_RANGE_YEARS = (3.0, 6.0)  # lifetimes in use: 3 (EcoLogits) ... 6 (Google TPU LCA, BLOOM)


@functools.lru_cache(maxsize=256)
def _cpu_spec(name: str) -> Optional[CpuSpec]:
    return lookup_cpu(name)


def _div(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or not b:
        return None
    return a / b


# -- operational carbon -----------------------------------------------------------


def _series_carbon_g(
    readings: Sequence[Tuple[_dt.datetime, float]],
    timeline: Optional[Mapping[str, Any]],
    started_at: Optional[_dt.datetime],
    it_j: float,
    pue: float,
) -> float:
    """Operational carbon (g) summed per timeline interval against the live readings.

    Each interval uses the latest reading at or before its midpoint (the first reading
    before any). Energy after the timeline's last point uses the latest reading.
    """
    values = [r[1] for r in readings]
    total_g = 0.0
    covered_j = 0.0
    if timeline and started_at is not None and timeline.get("t_s"):
        offsets = [(r[0] - started_at).total_seconds() for r in readings]  # reading times, s since start
        t_s = list(timeline["t_s"])
        series = list((timeline.get("energy_j") or {}).values())
        cum = [sum(col) for col in zip(*series, strict=False)] if series else [0.0] * len(t_s)
        kwh_factor = pue / J_PER_KWH
        for k in range(1, len(t_s)):
            d_j = cum[k] - cum[k - 1]
            if d_j <= 0:
                continue
            i = bisect.bisect_right(offsets, (t_s[k - 1] + t_s[k]) / 2.0) - 1
            total_g += d_j * kwh_factor * values[i if i > 0 else 0]
        covered_j = cum[-1] - cum[0]
        if covered_j > it_j > 0:  # the timeline holds node energy; components hold the job's share (attribution)
            total_g *= it_j / covered_j
            covered_j = it_j
    rest_j = it_j - covered_j
    if rest_j > 0:
        total_g += rest_j / J_PER_KWH * pue * readings[-1][1]
    return total_g


def _intensity(
    factors: Factors, live: Optional[LiveReadings], fac_kwh: float, it_j: float, timeline: Optional[Mapping[str, Any]], started_at: Any
) -> Tuple[Factor, float, Optional[Dict[str, Any]]]:
    """(the intensity factor as reported, operational carbon in kg, the ``grid`` section)."""
    readings = list(live.readings) if live is not None else []
    if live is None or not readings:
        ci = factors.carbon_intensity
        if live is None:
            return ci, fac_kwh * ci.value / 1000.0, None
        status = dict(live.status)
        status["fallback"] = {"value": ci.value, "source": ci.source}
        ci = replace(ci, note=f"live grid intensity unavailable ({status.get('reason') or 'no reading'}); bundled figure used")
        return ci, fac_kwh * ci.value / 1000.0, status
    op_g = _series_carbon_g(readings, timeline, started_at, it_j, factors.pue.value)
    eff = op_g / fac_kwh if fac_kwh > 0 else readings[-1][1]
    status = dict(live.status)
    src = f"{status['source']}, zone {status['zone'] or 'national'}"
    note = f"{len(readings)} reading(s); energy-weighted mean over the run" if len(readings) > 1 else "1 reading"
    ci = Factor(
        eff, "gCO2e/kWh", src, readings[-1][0].year, eff * (1 - LIVE_REL_RANGE), eff * (1 + LIVE_REL_RANGE), "live", None, note
    )
    status["series"] = [[r[0].isoformat().replace("+00:00", "Z"), r[1]] for r in readings[-50:]]
    status["fallback"] = {"value": factors.carbon_intensity.value, "source": factors.carbon_intensity.source}
    return ci, op_g / 1000.0, status


# -- embodied carbon and peak FLOP/s ----------------------------------------------------


@dataclass(frozen=True)
class Embodied:
    """Embodied carbon of the devices used: ``kg`` (``None`` when no device is known or
    it is disabled), its ``low_kg``/``high_kg`` bounds, and the footprint's ``embodied`` section."""

    kg: Optional[float]
    low_kg: float
    high_kg: float
    section: Dict[str, Any]


def _count(c: Mapping[str, Any]) -> float:
    count = (c.get("info") or {}).get("count", 1)
    return count if isinstance(count, (int, float)) and count > 0 else 1


def peak_flops(components: Sequence[Mapping[str, Any]]) -> Optional[float]:
    """Σ dense bf16 peak FLOP/s of the GPUs used; ``None`` unless there is a GPU and every
    GPU is known with a peak (an MFU against a partial peak would be wrong)."""
    total = 0.0
    gpus = [c for c in components if c.get("kind") == "gpu"]
    for c in gpus:
        given = (c.get("info") or {}).get("peak_flops_per_s")  # an accelerator the table lacks (planner, issue 15)
        if isinstance(given, (int, float)) and given > 0:
            total += given * _count(c)
            continue
        spec = lookup_accelerator(str(c.get("name") or ""))
        if spec is None or not spec.peak_bf16_flops:
            return None
        total += spec.peak_bf16_flops * _count(c)
    return total if gpus and total > 0 else None


def _device_embodied(c: Mapping[str, Any]) -> Optional[Tuple[str, float, Optional[float], Optional[float], float, str]]:
    """(model, kgCO2e, low, high, lifetime years, source) of a GPU or CPU component, or ``None`` when unknown."""
    name = str(c.get("name") or "")
    info = c.get("info") or {}
    if isinstance(info.get("embodied_kgco2e"), (int, float)):  # given per device (planner, issue 15)
        life_given = info.get("lifetime_years") or DEFAULT_LIFETIME_YEARS
        return name, float(info["embodied_kgco2e"]), info.get("embodied_low_kgco2e"), info.get("embodied_high_kgco2e"), life_given, str(info.get("embodied_source") or "given")
    if c.get("kind") == "gpu":
        spec = lookup_accelerator(name)
        if spec is None or spec.embodied_kgco2e is None:
            return None
        return spec.model, spec.embodied_kgco2e, spec.embodied_low_kgco2e, spec.embodied_high_kgco2e, spec.lifetime_years, spec.embodied_source
    cspec = _cpu_spec(name) if name else None
    if cspec is None or cspec.embodied_kgco2e is None:
        return None
    life = cspec.lifetime_years or DEFAULT_LIFETIME_YEARS
    return cspec.model, cspec.embodied_kgco2e, cspec.embodied_low_kgco2e, cspec.embodied_high_kgco2e, life, cspec.embodied_source


def embodied(components: Sequence[Mapping[str, Any]], duration_s: float, factors: Factors) -> Embodied:
    """Embodied carbon of the GPUs and CPUs used: per device, kgCO2e x duration / lifetime.

    ``factors.lifetime_years`` overrides every device's lifetime (and then the bounds use it
    too); ``factors.embodied=False`` disables the figure. Unknown devices are listed in
    ``missing``, never guessed.
    """
    if not factors.embodied:
        return Embodied(None, 0.0, 0.0, {"kg": None, "method": "disabled (embodied=False)", "devices": [], "missing": []})
    devices: List[Dict[str, Any]] = []
    missing: List[str] = []
    kg = lo = hi = 0.0
    override = factors.lifetime_years
    for c in components:
        if c.get("kind") not in ("gpu", "cpu") and "embodied_kgco2e" not in (c.get("info") or {}):
            continue
        spec = _device_embodied(c)
        if spec is None:
            missing.append(f"{c.get('id')} ({c.get('name') or 'unnamed'})")
            continue
        model, emb, emb_lo, emb_hi, life, source = spec
        count = _count(c)
        life_v = override or life
        life_lo, life_hi = (override, override) if override else LIFETIME_RANGE_YEARS
        use = float((c.get("info") or {}).get("usage_share") or 1.0)  # share of the lifetime in use (BLOOM: 0.85; issue 15)
        share = duration_s / (life_v * SECONDS_PER_YEAR * use)
        d_kg = emb * count * share
        kg += d_kg
        lo += (emb_lo if emb_lo is not None else emb) * count * duration_s / (max(life_hi, life_v) * SECONDS_PER_YEAR * use)
        hi += (emb_hi if emb_hi is not None else emb) * count * duration_s / (min(life_lo, life_v) * SECONDS_PER_YEAR * use)
        devices.append(
            {
                "component": c.get("id"),
                "model": model,
                "count": count,
                "embodied_kgco2e": emb,
                "lifetime_years": life_v,
                "share": share,
                **({"usage_share": use} if use != 1.0 else {}),
                "kg": d_kg,
                "source": source,
            }
        )
    total = kg if devices else None
    section = {"kg": total, "method": "per device: embodied kgCO2e x run duration / lifetime", "devices": devices, "missing": missing}
    return Embodied(total, lo, hi, section)


# -- the whole account -------------------------------------------------------------------


def account(
    *,
    components: List[Dict[str, Any]],
    duration_s: float,
    work: Mapping[str, Any],
    factors: Factors,
    started_at: Any = None,
    timeline: Optional[Mapping[str, Any]] = None,
    live: Optional[LiveReadings] = None,
) -> Dict[str, Any]:
    """The accounting sections of a footprint (see the module docstring for the formulas).

    Args:
        components: the footprint's component dicts (``energy_j``, ``kind``, ``name``,
            ``uncertainty_rel``, ``info``...).
        duration_s: the run's duration, seconds.
        work: ``steps``, ``samples``, ``tokens``, ``flops`` (``None`` unless counted).
        factors: from :func:`resolve_factors`.
        started_at: aware UTC start time (needed to align a live intensity series).
        timeline: ``Footprint.timeline`` (cumulative joules per component at ``t_s``).
        live: a snapshot of the live grid (:meth:`Factors.live_readings`); by default
            one is taken from ``factors.live`` when the factors have one. Pass it to
            keep the call pure (the same inputs always give the same account).

    Returns:
        ``region``, ``region_name``, ``energy``, ``factors``, ``carbon``, ``water``,
        ``work``, ``bounds``, ``embodied`` and, with a live grid, ``grid``.
    """
    duration_s = max(0.0, float(duration_s or 0.0))
    it_j = 0.0
    it_lo = it_hi = 0.0
    for c in components:
        e = float(c.get("energy_j") or 0.0)
        u = c.get("uncertainty_rel")
        u = float(u) if isinstance(u, (int, float)) and u >= 0 else 0.5
        u_lo, u_hi = c.get("uncertainty_low_rel"), c.get("uncertainty_high_rel")  # an asymmetric band (planner, issue 15)
        it_j += e
        it_lo += e * max(0.0, 1.0 - (float(u_lo) if isinstance(u_lo, (int, float)) else u))
        it_hi += e * (1.0 + (float(u_hi) if isinstance(u_hi, (int, float)) else u))
    it_kwh = it_j / J_PER_KWH
    pue_lo, pue_hi = factors.pue.range
    pue = factors.pue.value
    fac_kwh = it_kwh * pue
    fac_lo, fac_hi = it_lo / J_PER_KWH * pue_lo, it_hi / J_PER_KWH * pue_hi

    if live is None:
        live = factors.live_readings()
    ci, op_kg, grid = _intensity(factors, live, fac_kwh, it_j, timeline, started_at)
    ci_lo, ci_hi = ci.range
    op_lo, op_hi = fac_lo * ci_lo / 1000.0, fac_hi * ci_hi / 1000.0

    emb = embodied(components, duration_s, factors)
    emb_kg, emb_lo, emb_hi = emb.kg, emb.low_kg, emb.high_kg
    peak = peak_flops(components)
    total_kg = op_kg + (emb_kg or 0.0)
    total_lo, total_hi = op_lo + emb_lo, op_hi + emb_hi

    wue_lo, wue_hi = factors.wue.range
    ewif_lo, ewif_hi = factors.ewif.range
    on_pue, on_pue_lo, on_pue_hi = (pue, pue_lo, pue_hi) if factors.pue_on_wue else (1.0, 1.0, 1.0)  # pue_on_wue (issue 15)
    onsite_l = it_kwh * factors.wue.value * on_pue
    offsite_l = fac_kwh * factors.ewif.value
    on_lo, on_hi = it_lo / J_PER_KWH * wue_lo * on_pue_lo, it_hi / J_PER_KWH * wue_hi * on_pue_hi
    off_lo, off_hi = fac_lo * ewif_lo, fac_hi * ewif_hi

    steps = int(work.get("steps") or 0)
    samples = int(work.get("samples") or 0)
    tokens = int(work.get("tokens") or 0)
    flops = work.get("flops")
    flops_source = "counted" if flops is not None else None
    if flops is None and factors.model_params and tokens:
        flops, flops_source = 6.0 * factors.model_params * tokens, "6*N*D (model_params x tokens)"
    mfu = None
    if flops is not None and duration_s > 0 and peak is not None:
        mfu = flops / duration_s / peak
    eflop = flops / 1e18 if flops else None
    cci = _div(total_kg * 1000.0, eflop)

    bounds: Dict[str, List[float]] = {
        "energy.it_j": _pair(it_lo, it_hi),
        "energy.it_kwh": _pair(it_lo / J_PER_KWH, it_hi / J_PER_KWH),
        "energy.facility_kwh": _pair(fac_lo, fac_hi),
        "factors.pue": _pair(pue_lo, pue_hi),
        "factors.carbon_intensity_g_per_kwh": _pair(ci_lo, ci_hi),
        "factors.wue_l_per_kwh": _pair(wue_lo, wue_hi),
        "factors.ewif_l_per_kwh": _pair(ewif_lo, ewif_hi),
        "carbon.operational_kg": _pair(op_lo, op_hi),
        "carbon.total_kg": _pair(total_lo, total_hi),
        "water.onsite_l": _pair(on_lo, on_hi),
        "water.offsite_l": _pair(off_lo, off_hi),
        "water.total_l": _pair(on_lo + off_lo, on_hi + off_hi),
    }
    if emb_kg is not None:
        bounds["carbon.embodied_kg"] = _pair(emb_lo, emb_hi)
    for key, count in (("j_per_step", steps), ("j_per_sample", samples), ("j_per_token", tokens)):
        if count:
            bounds[f"work.{key}"] = _pair(it_lo / count, it_hi / count)
    if cci is not None and eflop:
        bounds["work.cci_g_per_eflop"] = _pair(total_lo * 1000.0 / eflop, total_hi * 1000.0 / eflop)
    if mfu is not None:
        bounds["work.mfu"] = [mfu, mfu]

    scope_figs = scopes(factors, op_kg, emb_kg, it_kwh, fac_kwh, (fac_lo, fac_hi), (ci_lo, ci_hi), (op_lo, op_hi), bounds)
    factors_doc = factors.to_dict()
    factors_doc["carbon_intensity_g_per_kwh"] = ci.to_dict()
    factors_doc.update(market_factors(factors))
    out: Dict[str, Any] = {
        "region": factors.region,
        "region_name": factors.region_name,
        "energy": {"it_j": it_j, "it_kwh": it_kwh, "facility_kwh": fac_kwh},
        "factors": factors_doc,
        "carbon": {"operational_kg": op_kg, "embodied_kg": emb_kg, "total_kg": total_kg, **scope_figs},
        "water": {"onsite_l": onsite_l, "offsite_l": offsite_l, "total_l": onsite_l + offsite_l, "source": factors.water_source},
        "work": {
            "steps": steps,
            "samples": samples,
            "tokens": tokens,
            "flops": flops,
            "flops_source": flops_source,
            "j_per_step": _div(it_j, steps),
            "j_per_sample": _div(it_j, samples),
            "j_per_token": _div(it_j, tokens),
            "mfu": mfu,
            "peak_flops_per_s": peak,
            "cci_g_per_eflop": cci,
        },
        "bounds": bounds,
        "embodied": emb.section,
        "task_stage": factors.task_stage,
    }
    if factors.withdrawal_onsite is not None:  # water withdrawal beside consumption (issue 15)
        on_kwh = (it_kwh * on_pue, it_lo / J_PER_KWH * on_pue_lo, it_hi / J_PER_KWH * on_pue_hi)
        out["water"].update(withdrawal_figures(factors, on_kwh, (fac_kwh, fac_lo, fac_hi), bounds))
    if grid is not None:
        out["grid"] = grid
    return out
