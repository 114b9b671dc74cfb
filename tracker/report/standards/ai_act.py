"""EU AI Act / GPAI Code of Practice energy fields (schema ``wattprint.ai-act/1``).

The AI Act's Annex XI §1(2)(d–e) asks a general-purpose AI model's provider for the
computational resources used to train the model (FLOPs, training time) and the known or
estimated energy consumption; the GPAI Code of Practice's Model Documentation Form asks
for the energy in **MWh to at least two significant figures** and the method in a short
text. This document carries them from one footprint:

- ``energy.value_mwh`` (facility energy, IT energy x PUE, rounded to 3 significant figures;
  ``value_mwh_text`` the same as text) with ``low_mwh``/``high_mwh``, ``basis``
  (``measured``/``estimated``/``mixed``) and ``measured_share``; ``it_energy_mwh`` beside it;
- ``compute.flops`` and how they were known (counted, ``6·N·D``, unknown), the
  wall-clock time and the hardware time (device-hours per model);
- ``hardware``, the emissions by scope, the water with its source;
- ``method``: a short text generated from what was measured.

Units: MWh, FLOP, seconds, hours, kgCO2e, litres. The schema is :data:`SCHEMA_PATH`
(our own, documented in docs/standards.md).

Failure modes: none for a footprint; an unknown figure is ``null`` and the method text
says so.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

from wattprint.report.standards._common import (
    J_PER_KWH,
    basis,
    bounds,
    footprint_dict,
    format_sig,
    get,
    hardware,
    hardware_time,
    measured_share,
    round_sig,
    tool_version,
)
from wattprint.units import as_float

__all__ = ["SCHEMA_ID", "SCHEMA_PATH", "SIGNIFICANT_FIGURES", "to_ai_act", "method_text"]

SCHEMA_ID = "wattprint.ai-act/1"
SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "schemas", "ai_act.schema.json")
SIGNIFICANT_FIGURES = 3  # the Code of Practice asks for at least two
_MWH_PER_KWH = 1e-3


def _components_text(doc: Dict[str, Any]) -> str:
    parts: List[str] = []
    for h in hardware(doc):
        how = "read from its energy counter" if h["measured"] else "estimated"
        parts.append(f"{h['component']} ({h['model']}) {how} via {h['source']}")
    return "; ".join(parts) or "no component"


def method_text(doc: Dict[str, Any]) -> str:
    """The method in a few sentences, generated from what the footprint says was measured."""
    fp = footprint_dict(doc)
    share = measured_share(fp)
    pue = get(fp, "factors.pue") or {}
    ci = get(fp, "factors.carbon_intensity_g_per_kwh") or {}
    flops_source = get(fp, "work.flops_source")
    flops_text = {"counted": "FLOPs counted by the training code"}.get(str(flops_source), f"FLOPs from {flops_source}") if flops_source else "FLOPs not known"
    duration = format_sig(as_float(fp.get("duration_s")), 3)
    if fp.get("kind") == "estimate":  # a plan (wattprint.estimate): nothing was measured
        first = f"Energy planned with wattprint {tool_version(fp)} estimate for {duration} s of compute, nothing measured: {_components_text(fp)}."
    else:
        first = f"Energy tracked by wattprint {tool_version(fp)} over the run's wall-clock time ({duration} s): {_components_text(fp)}."
    sentences = [
        first,
        f"{format_sig(share * 100 if share is not None else None, 3)} % of the IT energy came from hardware energy counters"
        + ("." if share == 1.0 else "; the rest was estimated from power models (TDP or utilisation)."),
        f"Facility energy = IT energy x PUE {format_sig(as_float(pue.get('value')), 3)} ({pue.get('source', 'unknown source')}).",
        f"Carbon at {format_sig(as_float(ci.get('value')), 3)} gCO2e/kWh, location-based ({ci.get('source', 'unknown source')}).",
        f"{flops_text}.",
        "Bounds combine the sensors' uncertainty with the factors' published ranges.",
    ]
    if fp.get("gaps"):
        sentences.append(f"{len(fp['gaps'])} span(s) had missing readings (see the footprint's gaps).")
    return " ".join(sentences)


def _mwh(kwh: Any) -> Any:
    v = as_float(kwh)
    return round_sig(v * _MWH_PER_KWH, SIGNIFICANT_FIGURES) if v is not None else None


def to_ai_act(footprint: Any) -> Dict[str, Any]:
    """The AI Act / Code of Practice document of a footprint (see the module docstring)."""
    doc = footprint_dict(footprint)
    fac_kwh = as_float(get(doc, "energy.facility_kwh"))
    it_kwh = as_float(get(doc, "energy.it_kwh"))
    if it_kwh is None and as_float(get(doc, "energy.it_j")) is not None:
        it_kwh = float(get(doc, "energy.it_j")) / J_PER_KWH
    fb = bounds(doc, "energy.facility_kwh", _MWH_PER_KWH)
    duration_s = as_float(doc.get("duration_s")) or 0.0
    hw_time = hardware_time(doc)
    carbon = doc.get("carbon") or {}
    value_mwh = _mwh(fac_kwh)
    energy: Dict[str, Any] = {
        "value_mwh": value_mwh,
        "value_mwh_text": format_sig(fac_kwh * _MWH_PER_KWH if fac_kwh is not None else None, SIGNIFICANT_FIGURES),
        "significant_figures": SIGNIFICANT_FIGURES,
        "low_mwh": round_sig(fb[0], SIGNIFICANT_FIGURES) if fb else None,
        "high_mwh": round_sig(fb[1], SIGNIFICANT_FIGURES) if fb else None,
        "basis": basis(doc),
        "measured_share": measured_share(doc),
        "includes_facility_overhead": True,
        "it_energy_mwh": _mwh(it_kwh),
        "pue": as_float(get(doc, "factors.pue.value")),
    }
    flops = as_float(get(doc, "work.flops"))
    return {
        "schema": SCHEMA_ID,
        "framework": "EU AI Act Annex XI Section 1(2)(d-e); GPAI Code of Practice, Model Documentation Form (energy)",
        "run_id": doc.get("run_id"),
        "project": doc.get("project"),
        "task_stage": doc.get("task_stage"),
        "period": {"started_at": doc.get("started_at"), "ended_at": doc.get("ended_at")},
        "status": doc.get("status"),
        "energy": energy,
        "compute": {
            "flops": flops,
            "flops_basis": ("counted" if get(doc, "work.flops_source") == "counted" else "estimated") if flops is not None else "unknown",
            "flops_method": get(doc, "work.flops_source"),
            "wall_clock_time_s": duration_s,
            "wall_clock_time_hours": duration_s / 3600.0,
            "hardware_time": hw_time,
            "hardware_time_device_hours": sum(h["device_hours"] for h in hw_time),
        },
        "hardware": hardware(doc),
        "emissions": {
            "operational_kg": as_float(carbon.get("operational_kg")),
            "scope2_location_kg": as_float(carbon.get("scope2_location_kg", carbon.get("operational_kg"))),
            "scope2_market_kg": as_float(carbon.get("scope2_market_kg")),
            "scope3_embodied_kg": as_float(carbon.get("scope3_embodied_kg", carbon.get("embodied_kg"))),
            "cue_kg_per_kwh": as_float(carbon.get("cue_kg_per_kwh")),
            "basis": "estimated (energy x published factors)",
            "bounds_kg": bounds(doc, "carbon.total_kg"),
        },
        "water": {
            "onsite_l": as_float(get(doc, "water.onsite_l")),
            "offsite_l": as_float(get(doc, "water.offsite_l")),
            "source": get(doc, "water.source") or "unknown",
            "basis": "estimated (energy x WUE and EWIF)",
        },
        "region": doc.get("region"),
        "method": method_text(doc),
        "generator": {"name": "wattprint", "version": tool_version(doc)},
    }
