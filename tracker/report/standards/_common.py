"""Shared helpers of the standards documents: reading a footprint, significant figures, provenance.

Units follow the footprint (J, kWh, kgCO2e, L, s); each document converts to its own
format's unit where it builds its field. Every document is a pure function of the
footprint dict (and its options): no clock is read, so the same footprint always gives
the same document (``created`` is the run's ``ended_at``).

Failure modes: :func:`footprint_dict` raises ``TypeError`` for an object that is not a
footprint mapping, a :class:`~wattprint.footprint.Footprint` or a path, and
:class:`~wattprint.errors.ReportError` for a path that is not a footprint; a missing figure reads
as ``None`` (documents then leave the field out or say ``unknown``).
"""

from __future__ import annotations

import math
import os
import uuid
from typing import Any, Dict, List, Mapping, Optional, Tuple

from wattprint.units import J_PER_KWH, as_float

__all__ = [
    "footprint_dict", "get", "bounds", "basis", "measured_share", "round_sig", "format_sig", "hardware", "hardware_time",
    "created_utc", "doc_uuid", "tool_version", "J_PER_KWH",
]


def footprint_dict(footprint: Any) -> Dict[str, Any]:
    """The footprint document from a dict, a ``Footprint`` (anything with ``to_dict()``) or a
    ``<run_id>.json`` path (read by :func:`wattprint.report.load.load_footprint`)."""
    if isinstance(footprint, (str, os.PathLike)):
        from wattprint.report.load import load_footprint

        footprint = load_footprint(os.fspath(footprint))
    if isinstance(footprint, Mapping):
        return dict(footprint)
    to_dict = getattr(footprint, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict())
    raise TypeError(f"expected a footprint dict or a wattprint Footprint, got {type(footprint).__name__}")


def get(doc: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """The value at a dotted path (``"carbon.total_kg"``), ``default`` when absent."""
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def bounds(doc: Mapping[str, Any], key: str, scale: float = 1.0) -> Optional[List[float]]:
    """The footprint's ``bounds[key]`` scaled, or ``None``."""
    pair = (doc.get("bounds") or {}).get(key)
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        return None
    lo, hi = as_float(pair[0]), as_float(pair[1])
    if lo is None or hi is None:
        return None
    return [lo * scale, hi * scale]


def basis(doc: Mapping[str, Any]) -> str:
    """``"measured"``, ``"estimated"`` or ``"mixed"`` over the components (``"estimated"`` without any)."""
    flags = {bool(c.get("measured")) for c in doc.get("components") or [] if isinstance(c, Mapping)}
    if flags == {True}:
        return "measured"
    return "mixed" if len(flags) == 2 else "estimated"


def measured_share(doc: Mapping[str, Any]) -> Optional[float]:
    """Share of the IT energy read from hardware counters, 0-1 (``None`` without energy)."""
    comps = [c for c in doc.get("components") or [] if isinstance(c, Mapping)]
    it_j = sum(as_float(c.get("energy_j")) or 0.0 for c in comps)
    measured_j = sum(as_float(c.get("energy_j")) or 0.0 for c in comps if c.get("measured"))
    return measured_j / it_j if it_j else None


def round_sig(value: Optional[float], digits: int = 3) -> Optional[float]:
    """``value`` rounded to ``digits`` significant figures (0 stays 0, ``None`` stays ``None``)."""
    if value is None or value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def format_sig(value: Optional[float], digits: int = 3) -> str:
    """``value`` as text with ``digits`` significant figures (``"0.00123"``, ``"1.20e-07"``); ``"unknown"`` for ``None``."""
    if value is None:
        return "unknown"
    if value == 0:
        return "0"
    exp = int(math.floor(math.log10(abs(value))))
    if -4 <= exp < digits + 3:
        return f"{round_sig(value, digits):.{max(0, digits - 1 - exp)}f}"
    return f"{value:.{digits - 1}e}"


def _count(c: Mapping[str, Any]) -> float:
    n = (c.get("info") or {}).get("count", 1)
    return float(n) if isinstance(n, (int, float)) and not isinstance(n, bool) and n > 0 else 1.0


def hardware(doc: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The devices of the run: ``kind``, ``model``, ``count``, ``component``, ``measured``, ``source``."""
    out: List[Dict[str, Any]] = []
    for c in doc.get("components") or []:
        if not isinstance(c, Mapping):
            continue
        out.append({
            "component": str(c.get("id")),
            "kind": str(c.get("kind") or "other"),
            "model": str(c.get("name") or "unknown"),
            "count": _count(c),
            "measured": bool(c.get("measured")),
            "source": str(c.get("source") or "unknown"),
        })
    return out


def hardware_time(doc: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Device-hours per kind and model: count x the run's wall-clock hours (GPUs and CPUs)."""
    hours = (as_float(doc.get("duration_s")) or 0.0) / 3600.0
    acc: Dict[Tuple[str, str], float] = {}
    for h in hardware(doc):
        if h["kind"] in ("gpu", "cpu"):
            key = (h["kind"], h["model"])
            acc[key] = acc.get(key, 0.0) + h["count"]
    return [{"kind": k, "model": m, "count": n, "device_hours": n * hours} for (k, m), n in acc.items()]


def created_utc(doc: Mapping[str, Any]) -> str:
    """The document's creation time: the run's ``ended_at`` (else ``started_at``) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    stamp = str(doc.get("ended_at") or doc.get("started_at") or "1970-01-01T00:00:00Z")
    return stamp[:19] + "Z"


def doc_uuid(doc: Mapping[str, Any], kind: str) -> str:
    """A stable UUID for the document of ``kind`` about this run (same run, same id)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"wattprint:{kind}:{doc.get('run_id')}:{doc.get('ended_at')}"))


def tool_version(doc: Mapping[str, Any]) -> str:
    """The wattprint version that wrote the footprint (else this one)."""
    v = get(doc, "host.wattprint_version")
    if v:
        return str(v)
    from wattprint._version import __version__

    return __version__
