"""Hugging Face model card: the ``co2_eq_emissions`` metadata and an "Environmental impact" section.

``ModelCardExporter(path)`` writes or updates a model card (``README.md``):

* the YAML ``co2_eq_emissions`` block the Hub reads: ``emissions`` (grams
  CO2e; the operational carbon by default, as CodeCarbon and other cards
  report it, the embodied carbon beside it in the section), ``source``
  (``"wattprint"``), ``training_type``, ``geographical_location`` (a place
  name with the region code beside it: ``"Ireland (IE)"``,
  ``"AWS US East (N. Virginia) (aws:us-east-1)"``) and ``hardware_used``;
* on a card made from huggingface_hub's template, the "Environmental Impact"
  placeholders (``[More Information Needed]`` for hardware, hours, cloud
  provider, region, carbon) are filled with the measured figures;
* a short "Environmental impact" section: energy, carbon (operational and
  embodied), water (on-site and off-site), PUE and grid intensity with their
  sources, written with the :mod:`wattprint.units` formatters (readable units,
``–`` for an unknown figure). Names (project, run id, devices, the location you
  give) are Markdown-escaped (:func:`wattprint._io.md_escape`): no raw HTML, headings,
  links or table breaks reach the card. The generated part sits between ``<!-- wattprint:begin -->`` and
  ``<!-- wattprint:end -->`` markers; everything else in the card (other
  metadata, other sections, text you wrote under the heading) is kept.

The card is parsed and rendered by ``huggingface_hub`` (the ``modelcard``
extra) and written atomically.

Failure modes: constructing the exporter without ``huggingface_hub`` raises
``ImportError`` naming the extra; ``export`` raises ``OSError`` when the file
cannot be written and ``ValueError`` when the existing card's YAML header is
broken (the file is then left untouched). The runner logs either; the run goes on.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any, Dict, List, Optional, Union

from wattprint import _io
from wattprint._io import md_escape, visible
from wattprint.errors import ConfigError
from wattprint.footprint.model import Footprint
from wattprint.footprint.regions import resolve_region
from wattprint.units import (
    as_float,
    format_carbon,
    format_duration,
    format_energy,
    format_factor,
    format_percent,
    format_water,
    kwh_to_j,
)

__all__ = ["ModelCardExporter", "hardware_summary", "impact_section", "place_name", "fill_placeholders"]

BEGIN = "<!-- wattprint:begin -->"
END = "<!-- wattprint:end -->"
_HEADING = re.compile(r"^(#{1,6})\s+Environmental impact\s*#*\s*$", re.IGNORECASE | re.MULTILINE)


class ModelCardExporter:
    """Writes the run's footprint into a Hugging Face model card.

    Args:
        path: the card file (``README.md``) or the model folder holding it.
        training_type: ``"pre-training"`` or ``"fine-tuning"`` (the Hub's two values).
        geographical_location: where the compute ran, in words; default the
            region's place name with its code (``"Ireland (IE)"``).
        hardware_used: e.g. ``"8 x NVIDIA H100"``; default built from the footprint's components.
        emissions: which carbon goes into ``co2_eq_emissions.emissions``:
            ``"operational"`` (default: the electricity's carbon, what
            CodeCarbon and most cards report, so cards compare) or
            ``"total"`` (operational + embodied).
        heading: the section title (default ``"Environmental impact"``).

    Raises:
        ImportError: ``huggingface_hub`` is not installed (``pip install 'wattprint[modelcard]'``).
        ValueError: an unknown ``training_type`` or ``emissions``.

    Attributes:
        last_path: the card last written, or ``None``.
    """

    def __init__(
        self,
        path: Union[str, "os.PathLike[str]"],
        *,
        training_type: str = "pre-training",
        geographical_location: Optional[str] = None,
        hardware_used: Optional[str] = None,
        emissions: str = "operational",
        heading: str = "Environmental impact",
    ) -> None:
        try:
            import huggingface_hub  # noqa: F401
        except ImportError as err:
            raise ImportError("ModelCardExporter needs huggingface_hub: pip install 'wattprint[modelcard]'") from err
        if training_type not in ("pre-training", "fine-tuning"):
            raise ConfigError("training_type", f"must be 'pre-training' or 'fine-tuning', got {training_type!r}")
        if emissions not in ("total", "operational"):
            raise ConfigError("emissions", f"must be 'total' or 'operational', got {emissions!r}")
        self.path = path
        self.training_type = training_type
        self.geographical_location = geographical_location
        self.hardware_used = hardware_used
        self.emissions = emissions
        self.heading = heading
        self.last_path: Optional[str] = None

    def card_path(self) -> str:
        p = os.path.abspath(os.path.expanduser(os.fspath(self.path)))
        return os.path.join(p, "README.md") if os.path.isdir(p) else p

    def co2_block(self, footprint: Footprint) -> Dict[str, Any]:
        """The ``co2_eq_emissions`` mapping for ``footprint`` (emissions in grams)."""
        key = "carbon.total_kg" if self.emissions == "total" else "carbon.operational_kg"
        kg = footprint.get(key)
        if kg is None:
            kg = footprint.get("carbon.operational_kg") or 0.0
        return {
            "emissions": round(float(kg) * 1000.0, 6),
            "source": "wattprint",
            "training_type": self.training_type,
            # one visible line each: YAML folds a NEL or line separator into a space, and the Hub shows these
            "geographical_location": visible(self.geographical_location or place_name(footprint.get("region"))),
            "hardware_used": visible(self.hardware_used or hardware_summary(footprint)),
        }

    def export(self, footprint: Footprint) -> None:
        """Write or update the card. Raises ``OSError`` or ``ValueError`` (see the module)."""
        from huggingface_hub import ModelCard

        target = self.card_path()
        if os.path.exists(target):
            with open(target, "r", encoding="utf-8") as fh:
                old = fh.read()
            try:
                card = ModelCard(old)
            except Exception as err:
                raise ValueError(f"{target}: the model card's YAML header cannot be parsed ({err}); left untouched") from err
        else:
            card = ModelCard(f"---\nco2_eq_emissions: {{}}\n---\n\n# {md_escape(str(footprint.get('project') or 'Model'))}\n")
        card.data["co2_eq_emissions"] = self.co2_block(footprint)
        card.text = fill_placeholders(_place_section(card.text, self.heading, impact_section(footprint, self.emissions)), footprint, self)
        _io.atomic_write_text(target, str(card))
        self.last_path = target

    def __repr__(self) -> str:
        return f"ModelCardExporter({os.fspath(self.path)!r})"


def hardware_summary(footprint: Footprint) -> str:
    """``"8 x NVIDIA H100 80GB HBM3; 2 x AMD EPYC 9654 (CPU)"`` from the footprint's components."""
    comps = footprint.get("components") or []
    parts: List[str] = []
    gpus = Counter(str(c.get("name") or "GPU") for c in comps if c.get("kind") == "gpu")
    parts += [f"{n} x {name}" for name, n in sorted(gpus.items())]
    cpus = Counter(str(c.get("name") or "CPU") for c in comps if c.get("kind") == "cpu")
    parts += [f"{n} x {name} (CPU)" for name, n in sorted(cpus.items())]
    if not parts:
        others = Counter(str(c.get("name") or c.get("kind")) for c in comps)
        parts = [f"{n} x {name}" for name, n in sorted(others.items())]
    return "; ".join(parts) or "unknown"


def impact_section(footprint: Footprint, emissions: str = "total") -> str:
    """The marked Markdown block of the "Environmental impact" section."""
    g = footprint.get
    rows: List[List[str]] = []
    measured = footprint.measured_share()
    share = f" ({format_percent(measured)} measured)" if measured is not None else ""
    rows.append(["IT energy (devices)", format_energy(as_float(g("energy.it_j"))) + share, "sensors: " + _sources(footprint)])
    rows.append(
        [
            "Facility energy",
            format_energy(kwh_to_j(as_float(g("energy.facility_kwh")))),
            f"PUE {format_factor(g('factors.pue.value'))}: {g('factors.pue.source') or 'unknown'}",
        ]
    )
    rows.append(
        [
            "Carbon, operational",
            format_carbon(as_float(g("carbon.operational_kg"))),
            f"grid {format_factor(g('factors.carbon_intensity_g_per_kwh.value'))} gCO2e/kWh: {g('factors.carbon_intensity_g_per_kwh.source') or 'unknown'}",
        ]
    )
    emb = as_float(g("carbon.embodied_kg"))
    rows.append(["Carbon, embodied (hardware, amortised)", format_carbon(emb) if emb is not None else "not estimated", "device lifetime share"])
    rows.append(["Carbon, total", format_carbon(as_float(g("carbon.total_kg"))), "operational + embodied"])
    rows.append(
        [
            "Water, on-site (cooling)",
            format_water(as_float(g("water.onsite_l"))),
            f"WUE {format_factor(g('factors.wue_l_per_kwh.value'))} L/kWh: {g('factors.wue_l_per_kwh.source') or 'unknown'}",
        ]
    )
    rows.append(
        [
            "Water, off-site (electricity)",
            format_water(as_float(g("water.offsite_l"))),
            f"EWIF {format_factor(g('factors.ewif_l_per_kwh.value'))} L/kWh: {g('factors.ewif_l_per_kwh.source') or 'unknown'}",
        ]
    )
    lines = [
        BEGIN,
        f"Measured with wattprint, run {_code(g('run_id'))} ({md_escape(str(g('status')))}, {format_duration(as_float(g('duration_s')))}, "
        f"region {_code(g('region') or 'unknown')}, hardware: {md_escape(hardware_summary(footprint))}).",
        "",
        "| Figure | Value | Basis |",
        "| --- | --- | --- |",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    which = "operational carbon (electricity)" if emissions == "operational" else "total carbon (operational + embodied)"
    lines += [
        "",
        f"`co2_eq_emissions.emissions` in the metadata is the {which}, in grams CO2e; "
        f"the embodied carbon ({format_carbon(emb) if emb is not None else 'not estimated'}) is in the table above"
        + (", not in the metadata." if emissions == "operational" else ", and included in it."),
        END,
    ]
    return "\n".join(lines)


def _place_section(text: str, heading: str, block: str) -> str:
    """Put ``block`` into ``text``: between existing markers, under an existing heading, or at the end."""
    start, end = text.find(BEGIN), text.find(END)
    if start != -1 and end > start:
        return text[:start] + block + text[end + len(END) :]
    pattern = _HEADING if heading == "Environmental impact" else re.compile(
        r"^(#{1,6})\s+" + re.escape(heading) + r"\s*#*\s*$", re.IGNORECASE | re.MULTILINE
    )
    m = pattern.search(text)
    if m:
        return text[: m.end()] + "\n\n" + block + "\n" + text[m.end() :]
    body = text.rstrip("\n")
    return (body + "\n\n" if body else "\n") + f"## {heading}\n\n{block}\n"


def _sources(footprint: Footprint) -> str:
    comps = footprint.get("components") or []
    seen: List[str] = []
    for c in comps:
        s = f"{c.get('source')} ({'measured' if c.get('measured') else 'estimated'})"
        if s not in seen:
            seen.append(s)
    return ", ".join(seen) or "none"


def _cell(text: str) -> str:
    return md_escape(str(text))


_PLAIN = re.compile(r"[^`<>&\\]*")


def _code(value: Any) -> str:
    """``value`` as a code span when it is plain text, else Markdown-escaped: a name holding a
    backtick, HTML or a control character can neither close the span nor inject anything."""
    text = str(value)
    return f"`{text}`" if text and _PLAIN.fullmatch(text) and visible(text) == text else md_escape(text)


_PROVIDERS = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Microsoft Azure"}
_TEMPLATE_INTRO = re.compile(r"^Carbon emissions can be estimated using the \[Machine Learning Impact calculator\].*\n?", re.MULTILINE)
_PLACEHOLDER = "[More Information Needed]"


def place_name(region: Any) -> str:
    """A human place name for a region code, with the code beside it: ``"Ireland (IE)"``,
    ``"Virginia, United States (US-VA)"``; the code alone when it is not a known region."""
    code = str(region or "").strip()
    if not code:
        return "unknown"
    try:
        r = resolve_region(code)
    except Exception:
        return code
    name = f"{r.name}, United States" if r.kind == "us-state" else ("World average" if r.kind == "world" else r.name)
    return f"{name} ({r.code})"


def fill_placeholders(text: str, footprint: Footprint, exporter: Optional["ModelCardExporter"] = None) -> str:
    """Fill the "Environmental Impact" placeholders of huggingface_hub's card template with the run's figures
    (lines that still read ``[More Information Needed]``; anything a person wrote is kept)."""
    if _PLACEHOLDER not in text:
        return text
    g = footprint.get
    provider = None
    try:
        provider = resolve_region(str(g("region") or "world")).provider
    except Exception:
        pass
    op, emb = as_float(g("carbon.operational_kg")), as_float(g("carbon.embodied_kg"))
    carbon = format_carbon(op) + " operational" + (f" (+ {format_carbon(emb)} embodied)" if emb is not None else "")
    duration_s = as_float(g("duration_s"))
    values = {
        "Hardware Type": (exporter.hardware_used if exporter is not None and exporter.hardware_used else None) or hardware_summary(footprint),
        "Hours used": f"{duration_s / 3600.0:.3g}" if duration_s is not None else None,
        "Cloud Provider": _PROVIDERS.get(str(provider), str(provider)) if provider else "none (own hardware or not stated)",
        "Compute Region": (exporter.geographical_location if exporter is not None and exporter.geographical_location else None)
        or place_name(g("region")),
        "Carbon Emitted": f"{carbon}, measured with wattprint (see the table above)",
    }
    for label, value in values.items():
        if value is not None:
            text = text.replace(f"- **{label}:** {_PLACEHOLDER}", f"- **{label}:** {md_escape(value)}")
    return _TEMPLATE_INTRO.sub("", text) if BEGIN in text else text
