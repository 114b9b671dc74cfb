"""Bundled hardware specifications (package data, one source and licence per row).

``data/cpus.csv`` holds CPU TDPs for the CPU power estimate; ``match`` is a
lower-case substring looked for in the model name the OS reports. Loaded on
first use and cached.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources
from typing import List, Optional

__all__ = ["CpuSpec", "lookup_cpu", "cpu_table", "read_data_csv"]


def read_data_csv(filename: str) -> List[dict]:
    """Rows of a CSV file in ``wattprint/data`` as dicts of strings."""
    text = resources.files("wattprint").joinpath("data", filename).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#")))


@dataclass(frozen=True)
class CpuSpec:
    model: str
    match: str
    tdp_w: float
    threads: int
    source: str


@functools.lru_cache(maxsize=1)
def cpu_table() -> List[CpuSpec]:
    return [
        CpuSpec(r["model"], r["match"].lower(), float(r["tdp_w"]), int(r["threads"] or 0), r["source"])
        for r in read_data_csv("cpus.csv")
    ]


def lookup_cpu(model_name: str) -> Optional[CpuSpec]:
    """The spec whose ``match`` occurs in ``model_name`` (longest match wins), or ``None``."""
    name = model_name.lower()
    hits = [s for s in cpu_table() if s.match and s.match in name]
    return max(hits, key=lambda s: len(s.match)) if hits else None
