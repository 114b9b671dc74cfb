"""CycloneDX 1.6 ML-BOM: the model as a ``machine-learning-model`` component whose
``modelCard.considerations.environmentalConsiderations`` holds the run's energy and carbon.

One ``energyConsumption`` for the run's activity (``task_stage``: ``training``,
``fine-tuning``, ``inference``; ``development`` and an unknown stage are ``other``) with
``activityEnergyCost`` (facility energy, kWh), one ``energyProvider`` (the grid of the
region, ``energySource`` ``unknown``: a grid mix is not one source) and
``co2CostEquivalent`` (the energy's carbon: location-based scope 2, tCO2eq; the embodied
carbon and the total are properties, never netted or offset). CycloneDX
has no bounds or basis fields: ``properties`` named ``wattprint:*`` carry them (measured
or estimated, low/high, scopes, CUE, water and its source). Validated in the tests with
``cyclonedx-python-lib``'s JSON validator for schema 1.6.

Failure modes: none for a footprint; the serial number is a stable UUID of the run.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from wattprint.report.standards._common import basis, bounds, created_utc, doc_uuid, footprint_dict, get, hardware, tool_version
from wattprint.report.standards.ai_act import method_text
from wattprint.units import as_float

__all__ = ["SPEC_VERSION", "to_cyclonedx"]

SPEC_VERSION = "1.6"
_ACTIVITY = {"training": "training", "fine-tuning": "fine-tuning", "inference": "inference"}


def _props(values: Dict[str, Any]) -> List[Dict[str, str]]:
    out: List[Dict[str, str]] = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in value)
        elif isinstance(value, float):
            value = f"{value:.6g}"
        out.append({"name": f"wattprint:{key}", "value": str(value)})
    return out


def to_cyclonedx(footprint: Any, *, name: Optional[str] = None, model_version: Optional[str] = None) -> Dict[str, Any]:
    """The CycloneDX 1.6 JSON BOM of a footprint (``name``/``model_version`` default to the project and run id)."""
    doc = footprint_dict(footprint)
    carbon, water = doc.get("carbon") or {}, doc.get("water") or {}
    kwh = as_float(get(doc, "energy.facility_kwh")) or 0.0
    op_kg = as_float(carbon.get("scope2_location_kg", carbon.get("operational_kg"))) or 0.0
    ref = "model"
    activity = _ACTIVITY.get(str(doc.get("task_stage")), "other")
    region = doc.get("region_name") or doc.get("region") or "unknown"
    consumption = {
        "activity": activity,
        "energyProviders": [
            {
                "description": f"electricity grid of {region} (location-based intensity "
                f"{as_float(get(doc, 'factors.carbon_intensity_g_per_kwh.value'))} gCO2e/kWh)",
                "organization": {"name": f"grid: {region}"},
                "energySource": "unknown",
                "energyProvided": {"value": kwh, "unit": "kWh"},
            }
        ],
        "activityEnergyCost": {"value": kwh, "unit": "kWh"},
        "co2CostEquivalent": {"value": op_kg / 1000.0, "unit": "tCO2eq"},
        "properties": _props({
            "energy.basis": basis(doc),
            "energy.facility_kwh.bounds": bounds(doc, "energy.facility_kwh"),
            "energy.it_kwh": as_float(get(doc, "energy.it_kwh")),
            "factors.pue": as_float(get(doc, "factors.pue.value")),
            "carbon.basis": "estimated",
            "carbon.operational_kg.bounds": bounds(doc, "carbon.operational_kg"),
            "carbon.total_kg": as_float(carbon.get("total_kg")),
            "carbon.total_kg.bounds": bounds(doc, "carbon.total_kg"),
            "carbon.scope2_location_kg": as_float(carbon.get("scope2_location_kg", carbon.get("operational_kg"))),
            "carbon.scope2_market_kg": as_float(carbon.get("scope2_market_kg")),
            "carbon.scope3_embodied_kg": as_float(carbon.get("scope3_embodied_kg", carbon.get("embodied_kg"))),
            "carbon.cue_kg_per_kwh": as_float(carbon.get("cue_kg_per_kwh")),
            "task_stage": doc.get("task_stage") or "unknown",
        }),
    }
    env_props = _props({
        "water.onsite_l": as_float(water.get("onsite_l")),
        "water.offsite_l": as_float(water.get("offsite_l")),
        "water.total_l.bounds": bounds(doc, "water.total_l"),
        "water.source": water.get("source") or "unknown",
        "water.basis": "estimated",
        "method": method_text(doc),
    })
    component = {
        "type": "machine-learning-model",
        "bom-ref": ref,
        "name": name or str(doc.get("project") or doc.get("run_id")),
        "version": model_version or str(doc.get("run_id")),
        "modelCard": {
            "considerations": {"environmentalConsiderations": {"energyConsumptions": [consumption], "properties": env_props}},
            "properties": _props({"hardware": "; ".join(f"{h['count']:g} x {h['model']} ({h['kind']})" for h in hardware(doc))}),
        },
    }
    version = tool_version(doc)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{doc_uuid(doc, 'cyclonedx')}",
        "version": 1,
        "metadata": {
            "timestamp": created_utc(doc),
            "tools": {"components": [{"type": "application", "name": "wattprint", "version": version}]},
            "component": {"type": "machine-learning-model", "bom-ref": f"{ref}-subject", "name": component["name"], "version": component["version"]},
            "properties": _props({"run_id": doc.get("run_id")}),
        },
        "components": [component],
    }
