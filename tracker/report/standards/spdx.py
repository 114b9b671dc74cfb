"""SPDX 3.0.1 (JSON-LD): an SPDX document whose root is the model's ``ai_AIPackage``
with its ``ai_energyConsumption``.

The energy goes to the AI profile's ``ai_trainingEnergyConsumption``,
``ai_finetuningEnergyConsumption`` or ``ai_inferenceEnergyConsumption`` after the run's
``task_stage`` (``development`` and an unknown stage count as training; the comment says
which), as an ``ai_EnergyConsumptionDescription`` in ``kilowattHour``: the facility
energy (IT energy x PUE). SPDX has no field for bounds, carbon or water: the package's
``comment`` carries them, with what was measured and what estimated, and
``ai_informationAboutTraining`` the method text. Validated in the tests against the SPDX
3.0.1 JSON schema (vendored in tests/schemas/spdx with its licence).

Failure modes: none for a footprint. Identifiers are stable URNs made from the run
(``urn:wattprint:<uuid>#...``), so the same footprint gives the same document.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from wattprint.report.standards._common import basis, bounds, created_utc, doc_uuid, footprint_dict, format_sig, get, tool_version
from wattprint.report.standards.ai_act import method_text
from wattprint.units import as_float

__all__ = ["SPDX_CONTEXT", "SPEC_VERSION", "to_spdx"]

SPDX_CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
SPEC_VERSION = "3.0.1"
_STAGE_PROPERTY = {"fine-tuning": "ai_finetuningEnergyConsumption", "inference": "ai_inferenceEnergyConsumption"}


def _comment(doc: Dict[str, Any]) -> str:
    carbon, water = doc.get("carbon") or {}, doc.get("water") or {}
    fb = bounds(doc, "energy.facility_kwh")
    cb = bounds(doc, "carbon.total_kg")
    parts = [
        f"Energy {format_sig(as_float(get(doc, 'energy.facility_kwh')))} kWh including facility overhead "
        f"(IT {format_sig(as_float(get(doc, 'energy.it_kwh')))} kWh, {basis(doc)}; "
        f"bounds {format_sig(fb[0]) if fb else 'unknown'}-{format_sig(fb[1]) if fb else 'unknown'} kWh).",
        f"Carbon (estimated) {format_sig(as_float(carbon.get('total_kg')))} kgCO2e "
        f"(scope 2 location-based {format_sig(as_float(carbon.get('scope2_location_kg', carbon.get('operational_kg'))))}, "
        f"scope 3 embodied {format_sig(as_float(carbon.get('scope3_embodied_kg', carbon.get('embodied_kg'))))}"
        + (f", scope 2 market-based {format_sig(as_float(carbon['scope2_market_kg']))}" if carbon.get("scope2_market_kg") is not None else "")
        + f"; bounds {format_sig(cb[0]) if cb else 'unknown'}-{format_sig(cb[1]) if cb else 'unknown'} kgCO2e).",
        f"Water (estimated) {format_sig(as_float(water.get('total_l')))} L "
        f"(on-site {format_sig(as_float(water.get('onsite_l')))}, off-site {format_sig(as_float(water.get('offsite_l')))}; "
        f"source {water.get('source') or 'unknown'}).",
        f"Task stage: {doc.get('task_stage') or 'not given (reported as training)'}.",
    ]
    return " ".join(parts)


def to_spdx(
    footprint: Any,
    *,
    name: Optional[str] = None,
    model_version: Optional[str] = None,
    download_location: Optional[str] = None,
    supplier: Optional[str] = None,
) -> Dict[str, Any]:
    """The SPDX 3.0.1 document of a footprint.

    Args:
        footprint: a footprint dict or :class:`~wattprint.footprint.Footprint`.
        name: the model's name (default the project, else the run id).
        model_version: the package version (default the run id).
        download_location: where the model can be downloaded (a URI), if public.
        supplier: the organisation supplying the model (an ``Organization`` element).
    """
    doc = footprint_dict(footprint)
    base = f"urn:wattprint:{doc_uuid(doc, 'spdx')}"
    created = created_utc(doc)
    info = "_:creationinfo"
    version = tool_version(doc)
    agent_id, tool_id, pkg_id = f"{base}#agent", f"{base}#tool", f"{base}#ai-package"
    kwh = as_float(get(doc, "energy.facility_kwh")) or 0.0
    stage_prop = _STAGE_PROPERTY.get(str(doc.get("task_stage")), "ai_trainingEnergyConsumption")
    package: Dict[str, Any] = {
        "type": "ai_AIPackage",
        "spdxId": pkg_id,
        "creationInfo": info,
        "name": name or str(doc.get("project") or doc.get("run_id")),
        "software_packageVersion": model_version or str(doc.get("run_id")),
        "software_primaryPurpose": "model",
        "releaseTime": created,
        "ai_energyConsumption": {
            "type": "ai_EnergyConsumption",
            stage_prop: [{"type": "ai_EnergyConsumptionDescription", "ai_energyQuantity": kwh, "ai_energyUnit": "kilowattHour"}],
        },
        "ai_informationAboutTraining": method_text(doc),
        "comment": _comment(doc),
    }
    elements: List[Dict[str, Any]] = [
        {"type": "SoftwareAgent", "spdxId": agent_id, "creationInfo": info, "name": "wattprint"},
        {"type": "Tool", "spdxId": tool_id, "creationInfo": info, "name": f"wattprint {version}"},
    ]
    if download_location:
        package["software_downloadLocation"] = download_location
    if supplier:
        org_id = f"{base}#supplier"
        elements.append({"type": "Organization", "spdxId": org_id, "creationInfo": info, "name": supplier})
        package["suppliedBy"] = org_id
    elements.append(package)
    document = {
        "type": "SpdxDocument",
        "spdxId": f"{base}#document",
        "creationInfo": info,
        "name": f"wattprint footprint of run {doc.get('run_id')}",
        "profileConformance": ["core", "software", "ai"],
        "rootElement": [pkg_id],
        "element": [e["spdxId"] for e in elements],
    }
    creation = {
        "type": "CreationInfo",
        "@id": info,
        "specVersion": SPEC_VERSION,
        "created": created,
        "createdBy": [agent_id],
        "createdUsing": [tool_id],
        "comment": f"Generated by wattprint {version} from the footprint of run {doc.get('run_id')}.",
    }
    return {"@context": SPDX_CONTEXT, "@graph": [creation, *elements, document]}
