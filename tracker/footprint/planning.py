"""Plan a run before it happens: FLOPs, time, energy, carbon and water.

:func:`estimate` applies the same accounting as a measured run
(:func:`wattprint.footprint.accounting.account`, through the one builder
:func:`wattprint.footprint.build.assemble`) to a planned one:

- FLOPs: given (``flops=``) or ``6·N·D`` (``params=`` × ``tokens=``; Kaplan et al. 2020);
- time: given (``hours=``) or ``FLOPs / (gpus × peak FLOP/s × MFU)``;
  with ``hours`` and FLOPs the MFU follows instead;
- time: also ``gpu_hours=`` (model cards publish these): time = GPU-hours / gpus;
- IT energy: given (``energy_kwh=``), or the facility energy (``facility_energy_kwh=``,
  already including PUE: IT = facility / PUE, so PUE is not applied again), or a measured
  pilot scaled (``from_run=`` with ``tokens=``/``steps=``, :mod:`wattprint.footprint.calibrate`),
  or ``gpus × power × time`` with power the given mean (``power_w=``) or the TDP band
  (:data:`wattprint.footprint.planning_inputs.TDP_BAND`: 0.76 × TDP, 0.30-1.00 × TDP);
  plus ``idle_power_w=`` (infrastructure power over the duration);
- an accelerator the table lacks: ``power_w=`` without ``gpu``, with ``peak_flops_per_s=``
  and ``embodied_kg_per_device=``; hosts: ``host_embodied_kg=`` per host (8 accelerators
  each), ``usage_share=`` the share of the lifetime in use (BLOOM: 0.85);
- then PUE, grid intensity (``grid_basis=``), market-based scope 2 (``market_intensity_g_per_kwh=``,
  ``renewable_share=``), water (``withdrawal=``, ``pue_on_wue=``) and embodied carbon from
  the region, exactly as for a measured run; ``requests=`` adds per-request figures.

The result is a dict shaped like a footprint (schema ``wattprint.estimate/1``):
``work.flops``, ``energy``, ``factors``, ``carbon``, ``water``, ``bounds``...

Note on Li et al. 2023's GPT-3 water figures: they treat Patterson et al.'s
1,287 MWh as server (IT) energy and apply PUE again for the off-site term,
although that figure already includes PUE 1.1. ``estimate(energy_kwh=1_287_000,
region="li2023:...")`` reproduces their published numbers because it treats
``energy_kwh`` as IT energy too; see docs/accounting.md. Inputs and sources: docs/planning.md.

Units: kWh, J, W, s, FLOP, kgCO2e, L. Failure modes: a missing, contradictory or out-of-range
input raises :class:`~wattprint.errors.ConfigError` naming the keyword; nothing is fetched.
"""

from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Mapping, Optional

from wattprint.errors import ConfigError
from wattprint.footprint.accounting import J_PER_KWH
from wattprint.footprint.build import assemble
from wattprint.footprint.factors import resolve_factors
from wattprint.footprint.planning_inputs import TDP_BAND, accelerator, device_components, num

__all__ = ["estimate", "ESTIMATE_SCHEMA_ID", "TDP_BAND", "TDP_UNCERTAINTY_REL"]

ESTIMATE_SCHEMA_ID = "wattprint.estimate/1"
TDP_UNCERTAINTY_REL = max(1.0 - TDP_BAND[1] / TDP_BAND[0], TDP_BAND[2] / TDP_BAND[0] - 1.0)  # the band's wider side


def estimate(
    *,
    params: Optional[float] = None,
    tokens: Optional[float] = None,
    flops: Optional[float] = None,
    gpu: Optional[str] = None,
    gpus: int = 1,
    mfu: Optional[float] = None,
    hours: Optional[float] = None,
    energy_kwh: Optional[float] = None,
    power_w: Optional[float] = None,
    region: Optional[str] = None,
    pue: Optional[Any] = None,
    wue_l_per_kwh: Optional[float] = None,
    ewif_l_per_kwh: Optional[float] = None,
    intensity_g_per_kwh: Optional[float] = None,
    lifetime_years: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
    gpu_hours: Optional[float] = None,
    peak_flops_per_s: Optional[float] = None,
    embodied_kg_per_device: Optional[float] = None,
    facility_energy_kwh: Optional[float] = None,
    idle_power_w: Optional[float] = None,
    host_embodied_kg: Optional[float] = None,
    usage_share: Optional[float] = None,
    market_intensity_g_per_kwh: Optional[float] = None,
    renewable_share: Optional[float] = None,
    withdrawal: Optional[Any] = None,
    pue_on_wue: Optional[bool] = None,
    grid_basis: Optional[str] = None,
    grid_year: Optional[int] = None,
    requests: Optional[float] = None,
    from_run: Optional[Any] = None,
    steps: Optional[float] = None,
) -> Dict[str, Any]:
    """Estimate a run's footprint before it happens.

    Args:
        params, tokens: model parameters N and training tokens D (FLOPs = 6·N·D).
        flops: total FLOPs instead of ``params``/``tokens``.
        gpu: accelerator model (``"H100"``, ``"TPU v5p"``, ``"MI300X"``...; see ``accelerators.csv``).
        gpus: how many accelerators (>= 1).
        mfu: model FLOPs utilisation in (0, 1]; with FLOPs and ``gpu`` it sets the time.
        hours: wall-clock hours; with FLOPs and ``gpu`` it sets the MFU.
        gpu_hours: accelerator-hours (as model cards publish them) instead of ``hours``: time = gpu_hours / gpus.
        energy_kwh: IT energy, kWh, instead of deriving it from ``gpu`` and time.
        facility_energy_kwh: energy that already includes the facility overhead (kWh): PUE is not applied again.
        power_w: mean power per accelerator, W (default: the TDP band); without ``gpu`` it describes an
            accelerator the table lacks, with ``peak_flops_per_s`` (dense FLOP/s) and ``embodied_kg_per_device``.
        idle_power_w: idle or infrastructure power (W) over the whole duration, beside the accelerators.
        host_embodied_kg: embodied kgCO2e per host server (8 accelerators each), amortised like the devices;
        usage_share: the share of the hardware's lifetime it is in use (0-1]; embodied per run = kg x t / (life x share).
        market_intensity_g_per_kwh, renewable_share: market-based scope 2 beside the location-based figure.
        withdrawal: ``True`` (bundled factors) or ``(onsite, offsite)`` L/kWh: water withdrawal beside consumption.
        pue_on_wue: multiply on-site WUE by PUE (default off, as The Green Grid defines WUE).
        grid_basis: ``"lifecycle"`` or ``"direct"`` grid intensity (default each row as published).
        grid_year: price with that year's grid figure where the bundled history has it.
        requests: requests served (inference planning): per-request energy, carbon and water too.
        from_run, steps: a measured run (path or dict) whose J/token (``tokens``) or J/step (``steps``) is scaled.
        region, pue, wue_l_per_kwh, ewif_l_per_kwh, intensity_g_per_kwh: factors, as for a Tracker.
        lifetime_years: hardware lifetime for embodied carbon (default: the table's).
        env: where ``WATTPRINT_*`` variables are read (default ``os.environ``).

    Returns:
        A footprint-shaped dict (``schema`` ``wattprint.estimate/1``).

    Raises:
        ConfigError: missing or contradictory inputs, unknown GPU model or region (the setting is named).
    """
    env = os.environ if env is None else env
    env = {k: v for k, v in env.items() if not k.startswith("WATTPRINT_GRID") or k in ("WATTPRINT_GRID_BASIS", "WATTPRINT_GRID_YEAR")}  # never live data
    notes: List[str] = []
    params_v, tokens_v, flops_v = num("params", params), num("tokens", tokens), num("flops", flops)
    mfu_v, hours_v, gpu_hours_v = num("mfu", mfu, maximum=1.0), num("hours", hours), num("gpu_hours", gpu_hours)
    energy_v = num("energy_kwh", energy_kwh, inclusive=True)
    facility_v = num("facility_energy_kwh", facility_energy_kwh, inclusive=True)
    power_v, idle_v = num("power_w", power_w), num("idle_power_w", idle_power_w, inclusive=True)
    peak_v, emb_dev_v = num("peak_flops_per_s", peak_flops_per_s), num("embodied_kg_per_device", embodied_kg_per_device, inclusive=True)
    host_v, share_v = num("host_embodied_kg", host_embodied_kg, inclusive=True), num("usage_share", usage_share, maximum=1.0)
    requests_v, steps_v = num("requests", requests), num("steps", steps)
    if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 1:
        raise ConfigError("gpus", f"must be an integer >= 1, got {gpus!r}")
    given_numbers = {"energy_kwh": energy_v, "facility_energy_kwh": facility_v, "hours": hours_v, "gpu_hours": gpu_hours_v,
                     "power_w": power_v, "idle_power_w": idle_v, "flops": flops_v, "tokens": tokens_v, "params": params_v}  # fmt: skip
    given = [n for n, v in (("energy_kwh", energy_v), ("facility_energy_kwh", facility_v), ("from_run", from_run)) if v is not None]
    if len(given) > 1:
        raise ConfigError(given[1], f"give one energy input, not {' and '.join(given)}")
    if hours_v is not None and gpu_hours_v is not None:
        raise ConfigError("gpu_hours", "give hours (wall clock) or gpu_hours (accelerator-hours), not both")

    flops_source = None
    if flops_v is not None:
        if params_v is not None and tokens_v is not None:
            raise ConfigError("flops", "give either flops or params and tokens, not both")
        flops_source = "given"
    elif params_v is not None and tokens_v is not None:
        flops_v, flops_source = 6.0 * params_v * tokens_v, "6*N*D"
    elif params_v is not None or (tokens_v is not None and from_run is None):
        raise ConfigError("params" if params_v is None else "tokens", "6·N·D needs both params (N) and tokens (D)")

    spec = accelerator(gpu, power_v, peak_v, emb_dev_v)
    peak_total = spec.peak_bf16_flops * gpus if spec is not None and spec.peak_bf16_flops else None
    duration_s: Optional[float] = hours_v * 3600.0 if hours_v is not None else None
    if gpu_hours_v is not None:
        duration_s = gpu_hours_v / gpus * 3600.0
        notes.append(f"time = {gpu_hours_v:g} GPU-hours / {gpus} accelerator(s)")
    if duration_s is not None and mfu_v is not None and flops_v is not None and peak_total:
        raise ConfigError("hours" if hours_v is not None else "gpu_hours", "give two of FLOPs, mfu and hours with a gpu: the third follows from them")
    if duration_s is None and flops_v is not None and peak_total and mfu_v is not None:
        duration_s = flops_v / (peak_total * mfu_v)
        notes.append("time = FLOPs / (gpus x peak dense FLOP/s x MFU)")
    elif duration_s is not None and flops_v is not None and peak_total:
        notes.append("MFU = FLOPs / (gpus x peak dense FLOP/s x time)")
    for setting, v in (("idle_power_w", idle_v), ("host_embodied_kg", host_v)):
        if v is not None and duration_s is None:
            raise ConfigError(setting, "needs the duration: give hours or gpu_hours (or a gpu with mfu and FLOPs)")

    calib = None
    if from_run is not None:
        from wattprint.footprint.calibrate import from_run as _calibrate

        calib = _calibrate(from_run, tokens=tokens_v, steps=steps_v)
        region = region if region is not None else calib.region
    factors = resolve_factors(
        region=region, pue=pue, wue_l_per_kwh=wue_l_per_kwh, ewif_l_per_kwh=ewif_l_per_kwh,
        intensity_g_per_kwh=intensity_g_per_kwh, env=env,
        **{k: v for k, v in (("lifetime_years", lifetime_years), ("market_intensity_g_per_kwh", market_intensity_g_per_kwh),
                             ("renewable_share", renewable_share), ("withdrawal", withdrawal), ("pue_on_wue", pue_on_wue),
                             ("grid_basis", grid_basis), ("grid_year", grid_year)) if v is not None},
    )

    if energy_v is not None or facility_v is not None or calib is not None:
        if energy_v is not None:
            it_j, note = energy_v * J_PER_KWH, "IT energy given"
        elif facility_v is not None:
            it_j = facility_v * J_PER_KWH / factors.pue.value
            note = f"facility energy given ({facility_v:g} kWh, PUE included): IT = facility / PUE {factors.pue.value:g}; PUE not applied again"
        else:
            assert calib is not None
            it_j = calib.it_j
            note = (f"IT energy = measured {calib.j_per_unit:.4g} J/{calib.unit} (run {calib.run_id or '?'}, {calib.hardware or 'no GPU named'}) "
                    f"x {calib.count:g} {calib.unit}s")
        notes.append(note)
        component: Dict[str, Any] = {
            "id": "plan", "kind": "synthetic", "name": "planned energy", "source": "plan", "measured": False, "energy_j": it_j,
            "mean_power_w": it_j / duration_s if duration_s else 0.0, "peak_power_w": 0.0, "uncertainty_rel": 0.0,
            "scope": "device", "info": {"count": gpus},
        }
        if calib is not None:
            component.update(uncertainty_rel=max(calib.low_rel, calib.high_rel), uncertainty_low_rel=calib.low_rel,
                             uncertainty_high_rel=calib.high_rel, source="plan: calibrated from a measured run")
        components = [component]
        if spec is not None and duration_s is not None:  # the devices still carry embodied carbon (no energy of their own)
            side_notes: List[str] = []
            components += device_components(spec, gpus, duration_s, 0.0, idle_v, host_v, share_v, side_notes)
            notes += [n for n in side_notes if not n.startswith("IT energy")]
        elif idle_v is not None or host_v is not None:
            components += device_components_without_gpu(duration_s, idle_v, host_v, share_v, gpus, notes)
    elif spec is not None and duration_s is not None:
        components = device_components(spec, gpus, duration_s, power_v, idle_v, host_v, share_v, notes)
    elif flops_v is not None:
        return _compute_only(flops_v, flops_source, params_v, tokens_v, region, env)
    else:
        raise ConfigError(
            "energy_kwh",
            "need the energy: give energy_kwh (or facility_energy_kwh, or from_run with tokens), or a gpu (or power_w) "
            "with hours or gpu_hours, or a gpu with mfu and FLOPs (flops, or params and tokens)",
        )
    if spec is not None and duration_s is None:
        notes.append("no duration: embodied carbon and MFU need hours, gpu_hours or mfu")

    header: Dict[str, Any] = {
        "schema": ESTIMATE_SCHEMA_ID,
        "kind": "estimate",
        "inputs": {
            "params": params_v, "tokens": tokens_v, "flops": flops if flops is not None else None, "gpu": gpu, "gpus": gpus,
            "mfu": mfu_v, "hours": hours_v, "gpu_hours": gpu_hours_v, "energy_kwh": energy_v, "facility_energy_kwh": facility_v,
            "power_w": power_v, "peak_flops_per_s": peak_v, "embodied_kg_per_device": emb_dev_v, "idle_power_w": idle_v,
            "host_embodied_kg": host_v, "usage_share": share_v, "market_intensity_g_per_kwh": market_intensity_g_per_kwh,
            "renewable_share": renewable_share, "withdrawal": withdrawal if withdrawal is None or isinstance(withdrawal, (bool, str)) else list(withdrawal),
            "pue_on_wue": pue_on_wue, "grid_basis": grid_basis, "grid_year": grid_year, "requests": requests_v, "steps": steps_v,
            "from_run": None if from_run is None else (from_run if isinstance(from_run, str) else (calib.run_id if calib else None)),
            "region": region,
        },
        "hardware": None if spec is None else {
            "model": spec.model, "count": gpus, "tdp_w": spec.tdp_w, "peak_bf16_flops": spec.peak_bf16_flops, "source": spec.source,
            "power_band_of_tdp": None if power_v is not None else list(TDP_BAND),
        },
        "duration_s": duration_s,
        "gpu_hours": duration_s * gpus / 3600.0 if duration_s is not None and spec is not None else gpu_hours_v,
    }
    work_tokens = int(tokens_v or 0)
    doc = assemble(
        header, components, duration_s=duration_s or 0.0,
        work={"steps": int(steps_v or 0), "samples": 0, "tokens": work_tokens, "flops": flops_v}, factors=factors, notes=notes,
    )
    doc["work"]["flops_source"] = flops_source
    if requests_v is not None:
        doc["per_request"] = per_request(doc, requests_v)
    it_j = doc["energy"]["it_j"]
    if not math.isfinite(it_j) or not math.isfinite(doc["energy"].get("facility_kwh") or 0.0):
        big = max(((n, v) for n, v in given_numbers.items() if v is not None), key=lambda nv: nv[1], default=("energy_kwh", None))
        raise ConfigError(big[0], f"the inputs give an energy too large to compute ({big[1]!r} is out of range)")
    return doc


def device_components_without_gpu(duration_s: Optional[float], idle_w: Optional[float], host_kg: Optional[float],
                                  share: Optional[float], gpus: int, notes: List[str]) -> List[Dict[str, Any]]:
    """Idle power and hosts beside a given energy, without an accelerator model."""
    from wattprint.footprint.hardware import AcceleratorSpec

    blank = AcceleratorSpec("none", "", "user", 0.0, None, None, None, None, 4.0, "", "", "", None)
    return device_components(blank, gpus, duration_s or 0.0, 0.0, idle_w, host_kg, share, notes)[1:]


def per_request(doc: Mapping[str, Any], requests: float) -> Dict[str, Any]:
    """Energy (Wh), carbon (g) and water (mL) per request, and requests per 500 mL (Li et al.'s unit)."""
    e, c, w = doc["energy"], doc["carbon"], doc["water"]
    ml = w["total_l"] * 1000.0 / requests if w.get("total_l") is not None else None
    return {
        "requests": requests,
        "it_wh": e["it_kwh"] * 1000.0 / requests,
        "facility_wh": e["facility_kwh"] * 1000.0 / requests,
        "carbon_g": c["total_kg"] * 1000.0 / requests,
        "operational_carbon_g": c["operational_kg"] * 1000.0 / requests,
        "water_onsite_ml": w["onsite_l"] * 1000.0 / requests,
        "water_offsite_ml": w["offsite_l"] * 1000.0 / requests,
        "water_ml": ml,
        "requests_per_500ml": 500.0 / ml if ml else None,
    }

def _compute_only(
    flops: float, flops_source: Optional[str], params: Optional[float], tokens: Optional[float], region: Optional[str], env: Mapping[str, str]
) -> Dict[str, Any]:
    """FLOPs alone: the footprint's energy, carbon and water stay ``None`` (no hardware given)."""
    factors = resolve_factors(region=region, env=env)
    return {
        "schema": ESTIMATE_SCHEMA_ID,
        "kind": "estimate",
        "inputs": {"params": params, "tokens": tokens, "flops": flops if flops_source == "given" else None, "region": region},
        "hardware": None,
        "duration_s": None,
        "gpu_hours": None,
        "components": [],
        "region": factors.region,
        "region_name": factors.region_name,
        "energy": {"it_j": None, "it_kwh": None, "facility_kwh": None},
        "factors": factors.to_dict(),
        "carbon": {"operational_kg": None, "embodied_kg": None, "total_kg": None},
        "water": {"onsite_l": None, "offsite_l": None, "total_l": None},
        "work": {
            "steps": 0, "samples": 0, "tokens": int(tokens or 0), "flops": flops, "flops_source": flops_source,
            "j_per_step": None, "j_per_sample": None, "j_per_token": None, "mfu": None, "cci_g_per_eflop": None,
        },
        "bounds": {},
        "embodied": None,
        "notes": ["compute only: give --gpu with --mfu or --hours (or --energy-kwh) for energy, carbon and water"],
    }
