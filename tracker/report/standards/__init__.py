"""Reporting standards: one footprint as the documents regulators and tools ask for.

    from wattprint.report import standards
    doc = standards.to_sci(footprint, "token")          # ISO/IEC 21031 SCI, JSON of our own schema
    doc = standards.build("spdx", "runs/r1.json")       # a path, a footprint dict or a Footprint

Formats (:data:`FORMATS`): ``ai-act`` (EU AI Act Annex XI / GPAI Code of Practice energy
fields, :mod:`.ai_act`), ``sci`` (:mod:`.sci`), ``spdx`` (SPDX 3.0.1 AI profile,
:mod:`.spdx`), ``cyclonedx`` (CycloneDX 1.6 ML-BOM, :mod:`.cyclonedx`), ``boamps``
(BoAmps 1.1, :mod:`.boamps`). Each builder is a pure function of the footprint dict:
no clock, no network, no file written. The mapping of every field to the footprint's
keys, and what is measured and what estimated, is in docs/standards.md.

Failure modes: an unknown format or option raises
:class:`~wattprint.errors.ConfigError` naming it (``format``, ``functional_unit``...);
a path that is not a footprint raises :class:`~wattprint.errors.ReportError`.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable, Dict

from wattprint.errors import ConfigError
from wattprint.report.standards.ai_act import to_ai_act
from wattprint.report.standards.boamps import to_boamps
from wattprint.report.standards.cyclonedx import to_cyclonedx
from wattprint.report.standards.sci import parse_functional_unit, to_sci
from wattprint.report.standards.spdx import to_spdx

__all__ = ["FORMATS", "build", "dumps", "to_ai_act", "to_sci", "to_spdx", "to_cyclonedx", "to_boamps", "parse_functional_unit"]

BUILDERS: Dict[str, Callable[..., Dict[str, Any]]] = {
    "ai-act": to_ai_act,
    "sci": to_sci,
    "spdx": to_spdx,
    "cyclonedx": to_cyclonedx,
    "boamps": to_boamps,
}
FORMATS = tuple(BUILDERS)


def build(fmt: str, footprint: Any, **options: Any) -> Dict[str, Any]:
    """The document of ``footprint`` (a path, a dict or a ``Footprint``) in ``fmt``; ``options`` go to its builder."""
    builder = BUILDERS.get(fmt)
    if builder is None:
        raise ConfigError("format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    allowed = [p for p in inspect.signature(builder).parameters if p != "footprint"]
    for name in options:
        if name not in allowed:
            raise ConfigError(name, f"is not an option of --format {fmt} (its options: {', '.join(allowed) or 'none'})")
    return builder(footprint, **options)


def dumps(document: Dict[str, Any]) -> str:
    """The document as JSON text (two-space indent, a final newline)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
