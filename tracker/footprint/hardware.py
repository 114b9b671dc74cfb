"""Bundled hardware specifications (package data, one source and licence per row).

``data/cpus.csv`` holds CPU TDPs for the CPU power estimate (and, for server
CPUs, embodied carbon); ``data/accelerators.csv`` holds GPUs and other
accelerators: TDP (W), peak dense bf16/fp16 FLOP/s, embodied kgCO2e per device
and its amortisation lifetime (years). ``match`` is a lower-case substring
looked for in the model name the OS or driver reports; the longest match wins.
Tables are loaded on first use and cached.

Failure modes: an unknown name gives ``None`` (never a guess); a broken table
raises ``ValueError`` on first use.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import List, Optional

from wattprint.footprint.tables import opt_float, opt_int, read_data_csv

__all__ = [
    "CpuSpec",
    "AcceleratorSpec",
    "lookup_cpu",
    "lookup_accelerator",
    "cpu_table",
    "accelerator_table",
    "read_data_csv",
    "DEFAULT_LIFETIME_YEARS",
]

DEFAULT_LIFETIME_YEARS = 4.0  # Cloud Carbon Footprint / Dell R740 LCA; range 3-6 in use (see docs/accounting.md)


@dataclass(frozen=True)
class CpuSpec:
    model: str
    match: str
    tdp_w: float
    threads: int
    source: str
    embodied_kgco2e: Optional[float] = None
    embodied_low_kgco2e: Optional[float] = None
    embodied_high_kgco2e: Optional[float] = None
    lifetime_years: Optional[float] = None
    embodied_source: str = ""
    peak_bf16_flops: Optional[float] = None


@dataclass(frozen=True)
class AcceleratorSpec:
    """One accelerator model. Units: ``tdp_w`` W (``None`` where no figure is published, e.g. TPU v5e+),
    ``peak_bf16_flops`` FLOP/s (dense),
    ``embodied_kgco2e`` kgCO2e per device (cradle-to-gate), ``lifetime_years`` years."""

    model: str
    match: str
    vendor: str
    tdp_w: Optional[float]
    peak_bf16_flops: Optional[float]
    embodied_kgco2e: Optional[float]
    embodied_low_kgco2e: Optional[float]
    embodied_high_kgco2e: Optional[float]
    lifetime_years: float
    source: str
    embodied_source: str
    licence: str
    year: Optional[int]


@functools.lru_cache(maxsize=1)
def cpu_table() -> List[CpuSpec]:
    return [
        CpuSpec(
            r["model"],
            r["match"].lower(),
            float(r["tdp_w"]),
            int(r["threads"] or 0),
            r["source"],
            opt_float(r.get("embodied_kgco2e")),
            opt_float(r.get("embodied_low_kgco2e")),
            opt_float(r.get("embodied_high_kgco2e")),
            opt_float(r.get("lifetime_years")),
            r.get("embodied_source") or "",
            opt_float(r.get("peak_bf16_flops")),
        )
        for r in read_data_csv("cpus.csv")
    ]


@functools.lru_cache(maxsize=1)
def accelerator_table() -> List[AcceleratorSpec]:
    return [
        AcceleratorSpec(
            model=r["model"],
            match=r["match"].lower(),
            vendor=r["vendor"],
            tdp_w=opt_float(r["tdp_w"]),
            peak_bf16_flops=opt_float(r["peak_bf16_flops"]),
            embodied_kgco2e=opt_float(r["embodied_kgco2e"]),
            embodied_low_kgco2e=opt_float(r["embodied_low_kgco2e"]),
            embodied_high_kgco2e=opt_float(r["embodied_high_kgco2e"]),
            lifetime_years=opt_float(r["lifetime_years"]) or DEFAULT_LIFETIME_YEARS,
            source=r["source"],
            embodied_source=r["embodied_source"],
            licence=r["licence"],
            year=opt_int(r.get("year")),
        )
        for r in read_data_csv("accelerators.csv")
    ]


def lookup_cpu(model_name: str) -> Optional[CpuSpec]:
    """The spec whose ``match`` occurs in ``model_name`` (longest match wins), or ``None``."""
    name = model_name.lower()
    hits = [s for s in cpu_table() if s.match and s.match in name]
    return max(hits, key=lambda s: len(s.match)) if hits else None


@functools.lru_cache(maxsize=256)
def lookup_accelerator(model_name: str) -> Optional[AcceleratorSpec]:
    """The accelerator for a reported name (``"NVIDIA H100 80GB HBM3"``) or a short model
    (``"H100"``, ``"a100-pcie"``): an exact model or match first, else the longest
    ``match`` found in the name as a whole word (``"h100"`` is not found in ``"h1000"``
    nor in ``"gh200"``). ``None`` when unknown."""
    name = " ".join(str(model_name or "").lower().replace("_", " ").split())
    if not name:
        return None
    table = accelerator_table()
    for s in table:
        if name in (s.model.lower(), s.match):
            return s
    hits = [s for s in table if re.search(r"(?<![a-z0-9])" + re.escape(s.match) + r"(?![a-z0-9])", name)]
    return max(hits, key=lambda s: len(s.match)) if hits else None
