"""Plan a run before it happens: FLOPs, time, energy, carbon and water.

:func:`estimate` applies the same accounting as a measured run
(:func:`wattprint.footprint.accounting.account`, through the one builder
:func:`wattprint.footprint.build.assemble`) to a planned one:

- FLOPs: given (``flops=``) or ``6·N·D`` (``params=`` × ``tokens=``; Kaplan et al. 2020);
- time: given (``hours=``) or ``FLOPs / (gpus × peak FLOP/s × MFU)``;
  with ``hours`` and FLOPs the MFU follows instead;
- IT energy: given (``energy_kwh=``) or ``gpus × power × time`` with power the
  accelerator's TDP (or ``power_w=``), marked as an estimate (±50 %);
- then PUE, grid intensity, water and embodied carbon from the region, exactly as
  for a measured run.

The result is a dict shaped like a footprint (schema ``wattprint.estimate/1``):
``work.flops``, ``energy``, ``factors``, ``carbon``, ``water``, ``bounds``...

Note on Li et al. 2023's GPT-3 water figures: they treat Patterson et al.'s
1,287 MWh as server (IT) energy and apply PUE again for the off-site term,
although that figure already includes PUE 1.1. ``estimate(energy_kwh=1_287_000,
region="li2023:...")`` reproduces their published numbers because it treats
``energy_kwh`` as IT energy too; see docs/accounting.md.
"""

from __future__ import annotations

import difflib
import math
import os
from typing import Any, Dict, List, Mapping, Optional

from wattprint.errors import ConfigError
from wattprint.footprint.accounting import J_PER_KWH
from wattprint.footprint.build import assemble
from wattprint.footprint.factors import resolve_factors
from wattprint.footprint.hardware import accelerator_table, lookup_accelerator

__all__ = ["estimate", "ESTIMATE_SCHEMA_ID", "TDP_UNCERTAINTY_REL"]

ESTIMATE_SCHEMA_ID = "wattprint.estimate/1"
TDP_UNCERTAINTY_REL = 0.5  # power taken as TDP: an estimate (real draw is often 60-100 % of TDP)


def _num(setting: str, value: Any, *, minimum: float = 0.0, inclusive: bool = False, maximum: Optional[float] = None) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(setting, f"must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(setting, f"must be a number, got {value!r}") from None
    ok = math.isfinite(v) and (v >= minimum if inclusive else v > minimum) and (maximum is None or v <= maximum)
    if not ok:
        rng = f"{'>=' if inclusive else '>'} {minimum:g}" + (f" and <= {maximum:g}" if maximum is not None else "")
        raise ConfigError(setting, f"must be a finite number {rng}, got {value!r}")
    return v


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
) -> Dict[str, Any]:
    """Estimate a run's footprint before it happens.

    Args:
        params, tokens: model parameters N and training tokens D (FLOPs = 6·N·D).
        flops: total FLOPs instead of ``params``/``tokens``.
        gpu: accelerator model (``"H100"``, ``"A100"``, ``"MI300X"``...; see ``accelerators.csv``).
        gpus: how many accelerators (>= 1).
        mfu: model FLOPs utilisation in (0, 1]; with FLOPs and ``gpu`` it sets the time.
        hours: wall-clock hours; with FLOPs and ``gpu`` it sets the MFU.
        energy_kwh: IT energy, kWh, instead of deriving it from ``gpu`` and time.
        power_w: mean power per accelerator, W (default: its TDP).
        region, pue, wue_l_per_kwh, ewif_l_per_kwh, intensity_g_per_kwh: factors, as for a Tracker.
        lifetime_years: hardware lifetime for embodied carbon (default: the table's).
        env: where ``WATTPRINT_*`` variables are read (default ``os.environ``).

    Returns:
        A footprint-shaped dict (``schema`` ``wattprint.estimate/1``).

    Raises:
        ConfigError: missing or contradictory inputs, unknown GPU model or region.
    """
    env = os.environ if env is None else env
    env = {k: v for k, v in env.items() if not k.startswith("WATTPRINT_GRID")}  # a plan never fetches live data
    notes: List[str] = []
    params_v = _num("params", params)
    tokens_v = _num("tokens", tokens)
    flops_v = _num("flops", flops)
    mfu_v = _num("mfu", mfu, maximum=1.0)
    hours_v = _num("hours", hours)
    energy_v = _num("energy_kwh", energy_kwh, inclusive=True)
    power_v = _num("power_w", power_w)
    if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 1:
        raise ConfigError("gpus", f"must be an integer >= 1, got {gpus!r}")

    flops_source = None
    if flops_v is not None:
        if params_v is not None and tokens_v is not None:
            raise ConfigError("flops", "give either flops or params and tokens, not both")
        flops_source = "given"
    elif params_v is not None or tokens_v is not None:
        if params_v is None or tokens_v is None:
            raise ConfigError("params" if params_v is None else "tokens", "6·N·D needs both params (N) and tokens (D)")
        flops_v, flops_source = 6.0 * params_v * tokens_v, "6*N*D"

    spec = None
    if gpu is not None:
        spec = lookup_accelerator(gpu)
        if spec is None:
            models = [s.model for s in accelerator_table()]
            near = difflib.get_close_matches(str(gpu), models, n=3, cutoff=0.3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ConfigError("gpu", f"unknown accelerator {gpu!r}{hint} Known: {', '.join(models)}")

    peak_total = spec.peak_bf16_flops * gpus if spec is not None and spec.peak_bf16_flops else None
    duration_s: Optional[float] = hours_v * 3600.0 if hours_v is not None else None
    if duration_s is not None and mfu_v is not None and flops_v is not None and peak_total:
        raise ConfigError("hours", "give two of FLOPs, mfu and hours with a gpu: the third follows from them")
    if duration_s is None and flops_v is not None and peak_total and mfu_v is not None:
        duration_s = flops_v / (peak_total * mfu_v)
        notes.append("time = FLOPs / (gpus x peak dense FLOP/s x MFU)")
    elif duration_s is not None and flops_v is not None and peak_total:
        notes.append("MFU = FLOPs / (gpus x peak dense FLOP/s x time)")

    if energy_v is not None:
        it_j, uncertainty, power_each = energy_v * J_PER_KWH, 0.0, None
        notes.append("IT energy given")
    elif spec is not None and duration_s is not None:
        power_each = power_v if power_v is not None else spec.tdp_w
        it_j = gpus * power_each * duration_s
        uncertainty = TDP_UNCERTAINTY_REL if power_v is None else 0.0
        notes.append(
            f"IT energy = {gpus} x {power_each:g} W ({'TDP' if power_v is None else 'given'}) x time; accelerators only, no host CPU/DRAM"
        )
    elif flops_v is not None:
        return _compute_only(flops_v, flops_source, params_v, tokens_v, region, env)
    else:
        raise ConfigError(
            "energy_kwh",
            "need the energy: give energy_kwh, or a gpu with hours, or a gpu with mfu and FLOPs (flops, or params and tokens)",
        )

    factors = resolve_factors(
        region=region,
        pue=pue,
        wue_l_per_kwh=wue_l_per_kwh,
        ewif_l_per_kwh=ewif_l_per_kwh,
        intensity_g_per_kwh=intensity_g_per_kwh,
        env=env,
        **({"lifetime_years": lifetime_years} if lifetime_years is not None else {}),
    )
    kind = "gpu" if spec is not None and duration_s is not None else "synthetic"
    if spec is not None and duration_s is None:
        notes.append("no duration: embodied carbon and MFU need hours or mfu")
    component = {
        "id": "gpu:plan" if spec is not None else "plan",
        "kind": kind,
        "name": spec.model if spec is not None else "planned energy",
        "source": "plan",
        "measured": False,
        "energy_j": it_j,
        "mean_power_w": it_j / duration_s if duration_s else 0.0,
        "peak_power_w": (power_each * gpus) if power_each else 0.0,
        "uncertainty_rel": uncertainty,
        "scope": "device",
        "info": {"count": gpus},
    }
    header: Dict[str, Any] = {
        "schema": ESTIMATE_SCHEMA_ID,
        "kind": "estimate",
        "inputs": {
            "params": params_v,
            "tokens": tokens_v,
            "flops": flops if flops is not None else None,
            "gpu": gpu,
            "gpus": gpus,
            "mfu": mfu_v,
            "hours": hours_v,
            "energy_kwh": energy_v,
            "power_w": power_v,
            "region": region,
        },
        "hardware": None
        if spec is None
        else {
            "model": spec.model,
            "count": gpus,
            "tdp_w": spec.tdp_w,
            "peak_bf16_flops": spec.peak_bf16_flops,
            "source": spec.source,
        },
        "duration_s": duration_s,
        "gpu_hours": duration_s * gpus / 3600.0 if duration_s is not None and spec is not None else None,
    }
    doc = assemble(
        header,
        [component],
        duration_s=duration_s or 0.0,
        work={"steps": 0, "samples": 0, "tokens": int(tokens_v or 0), "flops": flops_v},
        factors=factors,
        notes=notes,
    )
    doc["work"]["flops_source"] = flops_source
    return doc


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
