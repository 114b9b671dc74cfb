"""SCI (ISO/IEC 21031:2024, Green Software Foundation): ``SCI = (E × I + M) per R``.

- ``E_kwh``: the energy of the software boundary **including the facility overhead**, kWh
  (the footprint's ``energy.facility_kwh`` = IT energy x PUE);
- ``I_g_per_kwh``: the **location-based** grid intensity, gCO2e/kWh (the footprint's
  ``factors.carbon_intensity_g_per_kwh``; with a live grid, its energy-weighted mean).
  Market-based instruments (supplier factors, renewable certificates) are excluded, as
  the standard requires, even when the footprint carries a market-based scope 2;
- ``M_g``: embodied carbon, gCO2e, amortised by time (run duration / device lifetime, the
  footprint's ``carbon.embodied_kg``) and by the share of the devices reserved for the run
  (``resource_share``, default 1: the devices listed were reserved wholly);
- ``R``: the functional unit, declared by the user: ``run`` (1), ``token``, ``sample``,
  ``step``, ``request`` (counted by the run) or ``name:count`` (any unit with its count).

The document (schema ``wattprint.sci/1``, :data:`SCHEMA_PATH`) holds every input, the
score ``sci_g_per_unit``, its low/high bounds, the boundary (what is in, what is out) and,
for AI, the SCI-for-AI provider scores of a training run (per training token, per FLOP,
per parameter) or consumer scores of a serving run (per token, per request).

Failure modes: an unknown functional unit, a count <= 0, or a unit the run did not
count (``token`` with no tokens) raises :class:`~wattprint.errors.ConfigError` naming
``functional_unit`` (the CLI names ``--functional-unit``); a ``resource_share`` outside
(0, 1] names ``resource_share``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from wattprint.errors import ConfigError
from wattprint.report.standards._common import basis, bounds, footprint_dict, get, hardware, tool_version
from wattprint.units import as_float

__all__ = ["SCHEMA_ID", "SCHEMA_PATH", "UNITS", "to_sci", "parse_functional_unit"]

SCHEMA_ID = "wattprint.sci/1"
SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "schemas", "sci.schema.json")
UNITS = ("run", "token", "sample", "step", "request")

FunctionalUnit = Union[str, Tuple[str, float], None]


def parse_functional_unit(unit: FunctionalUnit) -> Tuple[str, Optional[float]]:
    """``(name, count)`` from ``"run"``/``"per_token"``/``"tokens"``/``"images:5000"``/``("images", 5000)``;
    ``count`` is ``None`` for a unit the run counts itself."""
    if unit is None:
        return "run", None
    if isinstance(unit, tuple):
        name, count = unit
        return _named(str(name), count)
    text = str(unit).strip()
    if ":" in text:
        name, _, count_text = text.partition(":")
        return _named(name, count_text)
    key = text.lower().removeprefix("per_").removeprefix("per-")
    key = key[:-1] if key.endswith("s") and key[:-1] in UNITS else key
    if key not in UNITS:
        raise ConfigError("functional_unit", f"must be one of {', '.join(UNITS)} or name:count (e.g. images:5000), got {unit!r}")
    return key, None


def _named(name: str, count: Any) -> Tuple[str, float]:
    name = name.strip()
    value = as_float(count)
    if not name or value is None or value <= 0:
        raise ConfigError("functional_unit", f"name:count needs a name and a count > 0 (e.g. images:5000), got {name}:{count}")
    return name, value


def _requests(doc: Mapping[str, Any]) -> float:
    return as_float(get(doc, "inference.requests")) or as_float(get(doc, "work.requests")) or 0.0


def _tokens(doc: Mapping[str, Any]) -> float:
    tokens = as_float(get(doc, "work.tokens")) or 0.0
    if tokens:
        return tokens
    return (as_float(get(doc, "inference.tokens_in")) or 0.0) + (as_float(get(doc, "inference.tokens_out")) or 0.0)


def _count(doc: Mapping[str, Any], name: str) -> float:
    if name == "run":
        return 1.0
    if name == "token":
        return _tokens(doc)
    if name == "request":
        return _requests(doc)
    return as_float(get(doc, f"work.{name}s")) or 0.0


def _boundary(doc: Mapping[str, Any], m_g: Optional[float]) -> Dict[str, Any]:
    included = [f"{h['component']} ({h['model']}, {'measured' if h['measured'] else 'estimated'}: {h['source']})" for h in hardware(doc)]
    included.append("facility overhead (IT energy x PUE)")
    if m_g is not None:
        included.append("embodied carbon of the devices listed, amortised over the run")
    excluded = ["network", "storage outside the host", "end-user devices", "work outside the tracked run (data preparation, evaluation) unless tracked"]
    if m_g is None:
        excluded.insert(0, "embodied carbon (no device of the run is in the embodied table, or it was disabled)")
    return {"included": included, "excluded": excluded, "components": [h["component"] for h in hardware(doc)]}


def _ai_scores(doc: Mapping[str, Any], carbon_g: float, parameters: Optional[float]) -> Dict[str, Any]:
    stage = doc.get("task_stage")
    tokens, flops = _tokens(doc), as_float(get(doc, "work.flops"))
    if stage == "inference":
        scores = {"per_token": carbon_g / tokens if tokens else None,
                  "per_request": carbon_g / _requests(doc) if _requests(doc) else None}
        return {"role": "consumer", "stage": stage, "scores_g": scores}
    scores = {"per_training_token": carbon_g / tokens if tokens else None,
              "per_flop": carbon_g / flops if flops else None,
              "per_parameter": carbon_g / parameters if parameters else None}
    return {"role": "provider", "stage": stage or "unknown", "scores_g": scores}


def to_sci(
    footprint: Any,
    functional_unit: FunctionalUnit = "run",
    *,
    resource_share: float = 1.0,
    parameters: Optional[float] = None,
    boundary: Optional[str] = None,
) -> Dict[str, Any]:
    """The SCI document of a footprint (see the module docstring for every field).

    Args:
        footprint: a footprint dict or :class:`~wattprint.footprint.Footprint`.
        functional_unit: ``run``, ``token``, ``sample``, ``step``, ``request`` or ``name:count``.
        resource_share: share (0-1] of the devices' embodied carbon reserved for this run.
        parameters: the model's parameter count, for the SCI-for-AI per-parameter score.
        boundary: the software boundary as the user declares it (text, kept in ``boundary.declared``
            beside what the footprint says was included and excluded).

    Raises:
        ConfigError: see the module docstring.
    """
    doc = footprint_dict(footprint)
    name, given = parse_functional_unit(functional_unit)
    share = as_float(resource_share)
    if share is None or not 0.0 < share <= 1.0:
        raise ConfigError("resource_share", f"must be a share in (0, 1], got {resource_share!r}")
    r = given if given is not None else _count(doc, name)
    if not r:
        raise ConfigError("functional_unit", f"the run counted no {name}s; give the count as {name}:COUNT, or choose another unit")
    e_kwh = as_float(get(doc, "energy.facility_kwh")) or 0.0
    i_g = as_float(get(doc, "factors.carbon_intensity_g_per_kwh.value")) or 0.0
    emb_kg = as_float(get(doc, "carbon.embodied_kg"))
    m_g = emb_kg * 1000.0 * share if emb_kg is not None else None
    carbon_g = e_kwh * i_g + (m_g or 0.0)
    e_b, i_b = bounds(doc, "energy.facility_kwh"), bounds(doc, "factors.carbon_intensity_g_per_kwh")
    m_b = bounds(doc, "carbon.embodied_kg", 1000.0 * share) or ([m_g, m_g] if m_g is not None else [0.0, 0.0])
    score_bounds: Optional[List[float]] = None
    if e_b and i_b:
        score_bounds = [(e_b[0] * i_b[0] + m_b[0]) / r, (e_b[1] * i_b[1] + m_b[1]) / r]
    return {
        "schema": SCHEMA_ID,
        "standard": "ISO/IEC 21031:2024 Software Carbon Intensity (SCI) specification",
        "run_id": doc.get("run_id"),
        "project": doc.get("project"),
        "task_stage": doc.get("task_stage"),
        "functional_unit": {"name": name, "count": r, "source": "declared" if given is not None else ("run" if name == "run" else "counted by the run")},
        "E_kwh": e_kwh,
        "E_basis": basis(doc),
        "E_includes_facility_overhead": True,
        "pue": as_float(get(doc, "factors.pue.value")),
        "I_g_per_kwh": i_g,
        "I_basis": "location-based (market-based instruments excluded)",
        "I_source": get(doc, "factors.carbon_intensity_g_per_kwh.source"),
        "M_g": m_g,
        "M_basis": "estimated: embodied kgCO2e x duration / lifetime x resource share" if m_g is not None else "unknown (not included)",
        "resource_share": share,
        "R": r,
        "sci_g_per_unit": carbon_g / r,
        "sci_bounds_g_per_unit": score_bounds,
        "boundary": {**({"declared": boundary} if boundary else {}), **_boundary(doc, m_g)},
        "ai": _ai_scores(doc, carbon_g, parameters),
        "generator": {"name": "wattprint", "version": tool_version(doc)},
    }
