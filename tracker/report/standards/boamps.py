"""BoAmps 1.1 (Boavizta): the AI energy report format CodeCarbon exports.

Mapping (BoAmps field <- footprint):

- ``header``: ``formatVersion`` 1.1, ``reportId`` (stable UUID of the run),
  ``reportDatetime`` (the run's end, ``YYYY-MM-DD HH:MM:SS``), ``reportStatus`` (``final``
  for a completed run, else ``draft``), ``publisher`` (project, confidentiality);
- ``task``: ``taskStage`` <- ``task_stage`` (``fine-tuning`` is BoAmps' ``finetuning``),
  ``taskFamily`` (given, else ``unknown``), ``nbRequest`` for inference, one
  ``algorithms`` entry (``parametersNumber`` in billions when given) and one ``dataset``
  entry (tokens or samples counted, as input);
- ``measures``: one measure for the run: ``powerConsumption`` = IT energy, kWh (as
  CodeCarbon reports it: without the facility overhead), ``measurementDuration`` (s),
  ``cpuTrackingMode``/``gpuTrackingMode`` from the sensors' sources;
- ``infrastructure.components``: one per device (``componentType``, ``nbComponent``);
- ``environment``: ``country`` (region code), ``powerSourceCarbonIntensity`` (location-based);
- ``quality``: ``high``/``medium``/``low`` from the energy's bounds (±10 % / ±25 % / more).

BoAmps has no field for the facility energy, carbon or water: ``task.taskDescription``
says them with bounds and basis. Validated in the tests against the schemas of the
``Boavizta/BoAmps`` repository's ``model/`` folder (vendored in tests/schemas/boamps).

Failure modes: none for a footprint.
"""

from __future__ import annotations

import platform
from typing import Any, Dict, Optional

from wattprint.report.standards._common import basis, bounds, doc_uuid, footprint_dict, format_sig, get, hardware, tool_version
from wattprint.units import as_float

__all__ = ["FORMAT_VERSION", "to_boamps"]

FORMAT_VERSION = "1.1"
SPEC_URI = "https://github.com/Boavizta/BoAmps/tree/main/model"
_STAGE = {"training": "training", "fine-tuning": "finetuning", "inference": "inference", "development": "development"}
_CLOUDS = {"aws": "aws", "gcp": "google", "azure": "azure"}


def _datetime(stamp: Any) -> str:
    text = str(stamp or "1970-01-01T00:00:00Z")
    return text[:10] + " " + text[11:19]


def _tracking(doc: Dict[str, Any], kind: str) -> Optional[str]:
    sources = sorted({h["source"] for h in hardware(doc) if h["kind"] == kind})
    return ",".join(sources) or None


def _quality(doc: Dict[str, Any]) -> str:
    value = as_float(get(doc, "energy.it_kwh")) or 0.0
    b = bounds(doc, "energy.it_kwh")
    if not value or not b:
        return "low"
    rel = max(value - b[0], b[1] - value) / value
    return "high" if rel <= 0.10 else ("medium" if rel <= 0.25 else "low")


def _range(doc: Dict[str, Any], key: str, unit: str) -> str:
    b = bounds(doc, key)
    return f" (bounds {format_sig(b[0])}-{format_sig(b[1])} {unit})" if b else ""


def _description(doc: Dict[str, Any]) -> str:
    carbon, water = doc.get("carbon") or {}, doc.get("water") or {}
    return (
        f"Measured with wattprint {tool_version(doc)}, run {doc.get('run_id')}. "
        f"IT energy {format_sig(as_float(get(doc, 'energy.it_kwh')))} kWh ({basis(doc)}){_range(doc, 'energy.it_kwh', 'kWh')}; "
        f"facility energy {format_sig(as_float(get(doc, 'energy.facility_kwh')))} kWh (PUE {format_sig(as_float(get(doc, 'factors.pue.value')))})"
        f"{_range(doc, 'energy.facility_kwh', 'kWh')}. "
        f"Carbon (estimated) {format_sig(as_float(carbon.get('total_kg')))} kgCO2e{_range(doc, 'carbon.total_kg', 'kgCO2e')}: scope 2 location-based "
        f"{format_sig(as_float(carbon.get('scope2_location_kg', carbon.get('operational_kg'))))}, scope 3 embodied "
        f"{format_sig(as_float(carbon.get('scope3_embodied_kg', carbon.get('embodied_kg'))))}"
        + (f", scope 2 market-based {format_sig(as_float(carbon['scope2_market_kg']))}" if carbon.get("scope2_market_kg") is not None else "")
        + f". Water (estimated) {format_sig(as_float(water.get('total_l')))} L{_range(doc, 'water.total_l', 'L')}, "
        f"source {water.get('source') or 'unknown'}."
    )


def to_boamps(
    footprint: Any,
    *,
    task_family: str = "unknown",
    parameters: Optional[float] = None,
    confidentiality: str = "public",
    licensing: Optional[str] = None,
    infra_type: Optional[str] = None,
) -> Dict[str, Any]:
    """The BoAmps 1.1 report of a footprint (``parameters``: the model's parameter count, not billions)."""
    doc = footprint_dict(footprint)
    region = str(doc.get("region") or "world")
    provider = region.split(":", 1)[0].lower() if ":" in region else None
    infra: Dict[str, Any] = {"infraType": infra_type or ("publicCloud" if provider in _CLOUDS else "other")}
    if provider in _CLOUDS:
        infra["cloudProvider"] = _CLOUDS[provider]
    infra["components"] = [
        {"componentName": h["model"], "componentType": h["kind"], "nbComponent": int(h["count"])} for h in hardware(doc)
    ] or [{"componentType": "other", "nbComponent": 1}]
    stage = doc.get("task_stage")
    tokens, samples = int(get(doc, "work.tokens") or 0), int(get(doc, "work.samples") or 0)
    dataset: Dict[str, Any] = {"dataUsage": "input", "dataType": "token" if tokens else "other"}
    if tokens or samples:
        dataset["dataQuantity"] = tokens or samples
    algorithm: Dict[str, Any] = {"algorithmName": str(doc.get("project") or "unknown")}
    if parameters:
        algorithm["parametersNumber"] = parameters / 1e9
    task: Dict[str, Any] = {
        "taskStage": _STAGE.get(str(stage), "unknown"),
        "taskFamily": task_family,
        "algorithms": [algorithm],
        "dataset": [dataset],
        "taskDescription": _description(doc),
    }
    if stage == "inference":
        task["nbRequest"] = as_float(get(doc, "inference.requests")) or 0
    measure: Dict[str, Any] = {
        "measurementMethod": "wattprint",
        "version": tool_version(doc),
        "powerConsumption": as_float(get(doc, "energy.it_kwh")) or 0.0,
        "measurementDuration": as_float(doc.get("duration_s")) or 0.0,
        "measurementDateTime": _datetime(doc.get("started_at")),
    }
    for key, kind in (("cpuTrackingMode", "cpu"), ("gpuTrackingMode", "gpu")):
        mode = _tracking(doc, kind)
        if mode:
            measure[key] = mode
    header: Dict[str, Any] = {
        "formatVersion": FORMAT_VERSION,
        "formatVersionSpecificationUri": SPEC_URI,
        "reportId": doc_uuid(doc, "boamps"),
        "reportDatetime": _datetime(doc.get("ended_at") or doc.get("started_at")),
        "reportStatus": "final" if doc.get("status") == "completed" else "draft",
        "publisher": {"projectName": str(doc.get("project") or "default"), "confidentialityLevel": confidentiality},
    }
    if licensing:
        header["licensing"] = licensing
    report: Dict[str, Any] = {
        "header": header,
        "task": task,
        "measures": [measure],
        "system": {"os": str(get(doc, "host.os") or platform.system() or "unknown")},
        "software": {"language": "python", "version": str(get(doc, "host.python") or platform.python_version())},
        "infrastructure": infra,
        "environment": {
            "country": region,
            "location": str(doc.get("region_name") or region),
            "powerSupplierType": "public",
            "powerSourceCarbonIntensity": as_float(get(doc, "factors.carbon_intensity_g_per_kwh.value")) or 0.0,
        },
        "quality": _quality(doc),
    }
    return report
