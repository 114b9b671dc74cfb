"""The footprint: one JSON document per run (schema ``wattprint.footprint/1``).

:class:`Footprint` is a read-only view over the document plus the run's
timeline. The document's stable core keys are listed in DESIGN.md and the
README; more keys may be added, none of these renamed. ``CSV_FIELDS`` is the
stable, documented header of the one-row-per-run CSV.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Dict, List, Mapping, Optional

__all__ = ["Footprint", "SCHEMA_ID", "CSV_FIELDS"]

SCHEMA_ID = "wattprint.footprint/1"

# Flattened core keys, in this order, forever (append new ones at the end).
CSV_FIELDS: List[str] = [
    "schema",
    "run_id",
    "project",
    "status",
    "started_at",
    "ended_at",
    "duration_s",
    "host.hostname",
    "region",
    "energy.it_j",
    "energy.it_kwh",
    "energy.facility_kwh",
    "energy.gpu_j",
    "energy.cpu_j",
    "energy.dram_j",
    "energy.ram_j",
    "measured_share",
    "factors.pue",
    "factors.carbon_intensity_g_per_kwh",
    "factors.wue_l_per_kwh",
    "factors.ewif_l_per_kwh",
    "carbon.operational_kg",
    "carbon.embodied_kg",
    "carbon.total_kg",
    "water.onsite_l",
    "water.offsite_l",
    "water.total_l",
    "work.steps",
    "work.samples",
    "work.tokens",
    "work.flops",
    "work.j_per_token",
    "work.mfu",
    "work.cci_g_per_eflop",
    "components",
    "gaps",
]


class Footprint:
    """A run's footprint.

    Attributes:
        timeline: the bounded timeline (see :meth:`wattprint.engine.timeline.Timeline.to_dict`).
    """

    def __init__(self, document: Dict[str, Any], timeline: Optional[Mapping[str, Any]] = None) -> None:
        self._doc = document
        self._timeline: Optional[Mapping[str, Any]] = timeline

    @property
    def timeline(self) -> Dict[str, Any]:
        """The run's timeline as a dict (documented layout; built on first access)."""
        tl = self._timeline
        if tl is None:
            return {}
        if not isinstance(tl, dict):
            tl = self._timeline = tl.to_dict() if hasattr(tl, "to_dict") else dict(tl)
        return tl

    def latest_power_w(self) -> Dict[str, Optional[float]]:
        """Mean power per component over the timeline's last interval, watts (cheap: no full timeline)."""
        tl = self._timeline
        if tl is not None and hasattr(tl, "latest_power_w"):
            return tl.latest_power_w()
        out: Dict[str, Optional[float]] = {}
        for cid, series in ((tl or {}).get("power_w") or {}).items():
            out[cid] = next((float(v) for v in reversed(series or []) if v is not None), None)
        return out

    # -- the document -------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """A deep copy of the footprint document (JSON-serialisable)."""
        return copy.deepcopy(self._doc)

    def to_json(self, *, timeline: bool = False, indent: Optional[int] = 2) -> str:
        doc = self.to_dict()
        if timeline:
            doc["timeline"] = self.timeline  # only serialised, never mutated
        return json.dumps(doc, indent=indent, default=str)

    def __getitem__(self, key: str) -> Any:
        return copy.deepcopy(self._doc[key])

    def get(self, dotted: str, default: Any = None) -> Any:
        """A value by dotted path, e.g. ``fp.get("carbon.total_kg")``."""
        node: Any = self._doc
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def save(self, path: str, *, timeline: bool = True) -> None:
        """Write the document (and, by default, its timeline) to ``path`` atomically.

        Raises:
            OSError: the folder is not writable or the disk is full; no partial file is left.
        """
        from wattprint._io import atomic_write_json

        doc = self.to_dict()
        if timeline and self.timeline:
            doc["timeline"] = self.timeline  # only serialised, never mutated
        atomic_write_json(path, doc)

    @property
    def run_id(self) -> str:
        return self._doc["run_id"]

    @property
    def status(self) -> str:
        return self._doc["status"]

    @property
    def energy_j(self) -> float:
        """IT energy of the run, joules."""
        return float(self._doc["energy"]["it_j"])

    def component_energy_j(self, kind: str) -> float:
        """Total joules of the components of ``kind`` (``"gpu"``, ``"cpu"``...)."""
        return sum(c["energy_j"] for c in self._doc["components"] if c["kind"] == kind)

    # -- flattening for CSV ------------------------------------------
    def csv_row(self) -> Dict[str, Any]:
        """The footprint flattened to ``CSV_FIELDS``."""
        doc = self._doc
        row: Dict[str, Any] = {}
        for key in CSV_FIELDS:
            if key.startswith("factors."):
                f = doc.get("factors", {}).get(key.split(".", 1)[1]) or {}
                row[key] = f.get("value")
            elif key.startswith("energy.") and key.endswith("_j") and key != "energy.it_j":
                row[key] = self.component_energy_j(key.split(".")[1][:-2])
            elif key == "measured_share":
                it = self.energy_j
                measured = sum(c["energy_j"] for c in doc["components"] if c["measured"])
                row[key] = measured / it if it > 0 else None
            elif key == "components":
                row[key] = ";".join(
                    f"{c['id']}={c['energy_j']:.6g}J({'measured' if c['measured'] else 'estimated'}:{c['source']})"
                    for c in doc["components"]
                )
            elif key == "gaps":
                row[key] = len(doc.get("gaps", []))
            else:
                row[key] = self.get(key)
        return row

    def summary(self) -> str:
        """A few human-readable lines: energy per component (measured or estimated), carbon, water."""
        d = self._doc
        lines = [f"wattprint: run {d['run_id']} ({d['status']}), {d['duration_s']:.1f} s"]
        for c in d["components"]:
            how = "measured" if c["measured"] else "estimated"
            lines.append(f"  {c['id']:<16} {c['energy_j']:>12.1f} J  {c['mean_power_w']:>8.1f} W mean  {how} ({c['source']})")
        e, carbon, water = d["energy"], d.get("carbon") or {}, d.get("water") or {}
        pue = (d.get("factors") or {}).get("pue", {}).get("value")
        ci = (d.get("factors") or {}).get("carbon_intensity_g_per_kwh", {}).get("value")
        lines.append(f"  energy  IT {e['it_kwh'] * 1000:.4f} Wh, facility {e['facility_kwh'] * 1000:.4f} Wh (PUE {pue})")
        if carbon.get("total_kg") is not None:
            emb = carbon.get("embodied_kg")
            lines.append(
                f"  carbon  {carbon['total_kg'] * 1000:.4f} gCO2e (operational {carbon['operational_kg'] * 1000:.4f} g at {ci} g/kWh"
                + (f", embodied {emb * 1000:.4f} g)" if emb is not None else ")")
            )
        if water.get("total_l") is not None:
            lines.append(f"  water   {water['total_l'] * 1000:.3f} mL (on-site {water['onsite_l'] * 1000:.3f}, off-site {water['offsite_l'] * 1000:.3f})")
        low_high = (d.get("bounds") or {}).get("carbon.total_kg")
        if low_high and None not in low_high:
            lines.append(f"  bounds  carbon {low_high[0] * 1000:.4f} to {low_high[1] * 1000:.4f} gCO2e (sensor and factor uncertainty)")
        if d.get("gaps"):
            lines.append(f"  gaps    {len(d['gaps'])} span(s) with missing readings: see 'gaps' in the JSON")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Footprint(run_id={self.run_id!r}, status={self.status!r}, "
            f"energy_kwh={self._doc['energy']['it_kwh']:.6g}, carbon_kg={self.get('carbon.total_kg')})"
        )
