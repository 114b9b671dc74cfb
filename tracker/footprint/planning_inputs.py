"""The planner's inputs: number checks, the accelerator (bundled or described), the TDP band, the components.

Units: W, s, J, FLOP/s, kgCO2e per device, years.

The TDP band (:data:`TDP_BAND`): a planned accelerator with no measured power draws a central
0.76 x TDP, with an asymmetric band 0.30-1.00 x TDP:

- central 0.76: Newkirk, Latif et al. 2025 (arXiv 2506.14551): computationally intensive
  training on 8-GPU H100 HGX nodes at 76 % of the node's 10.2 kW rating;
- high 1.00: the board's power limit (sustained draw is capped at TDP; Latif et al. 2024,
  arXiv 2412.08602, observed at most 8.4 kW = 82 % of the rating with GPUs near full use);
- low 0.30: small jobs measured with wattprint drew 30-43 % of TDP (issue 15; e.g. a single
  GPU fine-tune with small batches, data loading between steps).

So a planned figure's bounds hold both a small job measured at 35 % of TDP and a large one at
TDP. A given ``power_w`` is taken as the measured mean: no band.

Failure modes: :class:`~wattprint.errors.ConfigError` naming the setting for a bad number, an
unknown accelerator, or an input that needs another one.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import replace
from typing import Any, Dict, List, Optional

from wattprint.errors import ConfigError
from wattprint.footprint.hardware import DEFAULT_LIFETIME_YEARS, AcceleratorSpec, accelerator_table, lookup_accelerator

__all__ = ["TDP_BAND", "GPUS_PER_HOST", "num", "accelerator", "device_components"]

# (central, low, high) fraction of TDP that a planned accelerator draws (module docstring for the sources)
TDP_BAND = (0.76, 0.30, 1.00)
GPUS_PER_HOST = 8  # HGX/DGX-class servers (BLOOM: 8 A100 per HPE Apollo 6500 node)


def num(setting: str, value: Any, *, minimum: float = 0.0, inclusive: bool = False, maximum: Optional[float] = None) -> Optional[float]:
    """A finite number above ``minimum`` (at or above with ``inclusive``), at most ``maximum``; ``None`` passes."""
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


def accelerator(gpu: Optional[str], power_w: Optional[float], peak_flops_per_s: Optional[float], embodied_kg: Optional[float]) -> Optional[AcceleratorSpec]:
    """The bundled accelerator ``gpu`` (its peak or embodied replaced when given), or one described by
    ``power_w`` (and optionally its peak and embodied carbon) when the table lacks it; ``None`` without either."""
    if gpu is not None:
        spec = lookup_accelerator(gpu)
        if spec is None and power_w is not None:  # a name the table lacks, described by its power
            return _described(str(gpu), power_w, peak_flops_per_s, embodied_kg)
        if spec is None:
            models = [s.model for s in accelerator_table()]
            near = difflib.get_close_matches(str(gpu), models, n=3, cutoff=0.3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ConfigError(
                "gpu", f"unknown accelerator {gpu!r}{hint} Known: {', '.join(models)}. "
                "For another accelerator give its power_w too (and peak_flops_per_s, embodied_kg_per_device)"
            )
        if peak_flops_per_s is not None:
            spec = replace(spec, peak_bf16_flops=peak_flops_per_s, source=f"{spec.source}; peak given")
        if embodied_kg is not None:
            spec = replace(spec, embodied_kgco2e=embodied_kg, embodied_low_kgco2e=None, embodied_high_kgco2e=None, embodied_source="given")
        return spec
    if power_w is None:
        for setting, v in (("peak_flops_per_s", peak_flops_per_s), ("embodied_kg_per_device", embodied_kg)):
            if v is not None:
                raise ConfigError(setting, "describes an accelerator: give gpu (a bundled model) or power_w (one the table lacks)")
        return None
    return _described("described accelerator", power_w, peak_flops_per_s, embodied_kg)


def _described(name: str, power_w: float, peak_flops_per_s: Optional[float], embodied_kg: Optional[float]) -> AcceleratorSpec:
    return AcceleratorSpec(
        model=name, match="", vendor="user", tdp_w=power_w, peak_bf16_flops=peak_flops_per_s,
        embodied_kgco2e=embodied_kg, embodied_low_kgco2e=None, embodied_high_kgco2e=None,
        lifetime_years=DEFAULT_LIFETIME_YEARS, source="described by the user (power_w)",
        embodied_source="given" if embodied_kg is not None else "", licence="", year=None,
    )


def device_components(
    spec: AcceleratorSpec,
    gpus: int,
    duration_s: float,
    power_given_w: Optional[float],
    idle_power_w: Optional[float],
    host_embodied_kg: Optional[float],
    usage_share: Optional[float],
    notes: List[str],
) -> List[Dict[str, Any]]:
    """The accelerators (at ``power_given_w``, else the TDP band), the idle/infrastructure power and the hosts."""
    central, low, high = TDP_BAND
    if power_given_w is None and spec.tdp_w is None:
        raise ConfigError("power_w", f"{spec.model} has no published TDP: give power_w, its mean power per chip in W")
    tdp_w = spec.tdp_w or 0.0
    power_each = power_given_w if power_given_w is not None else tdp_w * central
    energy_j = gpus * power_each * duration_s
    info: Dict[str, Any] = {"count": gpus}
    described = spec.vendor == "user"
    if described or spec.source.endswith("; peak given"):
        if spec.peak_bf16_flops:
            info["peak_flops_per_s"] = spec.peak_bf16_flops
    if described or spec.embodied_source == "given":
        if spec.embodied_kgco2e is not None:
            info.update(embodied_kgco2e=spec.embodied_kgco2e, lifetime_years=spec.lifetime_years, embodied_source="given per device")
    if usage_share is not None:
        info["usage_share"] = usage_share
    gpu: Dict[str, Any] = {
        "id": "gpu:plan", "kind": "gpu", "name": spec.model, "source": "plan", "measured": False,
        "energy_j": energy_j, "mean_power_w": gpus * power_each, "peak_power_w": gpus * (power_given_w or tdp_w),
        "uncertainty_rel": 0.0, "scope": "device", "info": info,
    }
    if power_given_w is None:
        gpu["uncertainty_rel"] = max(1.0 - low / central, high / central - 1.0)
        gpu["uncertainty_low_rel"] = 1.0 - low / central
        gpu["uncertainty_high_rel"] = high / central - 1.0
        notes.append(
            f"IT energy = {gpus} x {power_each:g} W ({central:.0%} of the {tdp_w:g} W TDP; band {low:.0%}-{high:.0%} of TDP, "
            "from measured jobs: docs/planning.md) x time; accelerators only"
        )
    else:
        notes.append(f"IT energy = {gpus} x {power_each:g} W (given) x time; accelerators only")
    out = [gpu]
    if idle_power_w is not None:
        out.append({
            "id": "idle:plan", "kind": "idle", "name": "idle / infrastructure power", "source": "plan", "measured": False,
            "energy_j": idle_power_w * duration_s, "mean_power_w": idle_power_w, "peak_power_w": idle_power_w,
            "uncertainty_rel": 0.0, "scope": "infrastructure", "info": {"count": 1},
        })
        notes.append(f"idle / infrastructure power {idle_power_w:g} W over the duration, beside the accelerators")
    if host_embodied_kg is not None:
        hosts = max(1, math.ceil(gpus / GPUS_PER_HOST))
        host_info: Dict[str, Any] = {"count": hosts, "embodied_kgco2e": host_embodied_kg, "lifetime_years": DEFAULT_LIFETIME_YEARS,
                                     "embodied_source": "given per host (without its accelerators)"}
        if usage_share is not None:
            host_info["usage_share"] = usage_share
        out.append({
            "id": "host:plan", "kind": "host", "name": "host server (embodied only)", "source": "plan", "measured": False,
            "energy_j": 0.0, "mean_power_w": 0.0, "peak_power_w": 0.0, "uncertainty_rel": 0.0, "scope": "host", "info": host_info,
        })
        notes.append(f"{hosts} host(s) ({GPUS_PER_HOST} accelerators per host) at {host_embodied_kg:g} kgCO2e each, amortised like the accelerators")
    return out
