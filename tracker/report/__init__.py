"""Reports on saved footprints: tables, comparisons and what-if regions.

Read ``<run_id>.json`` files (or output folders holding them), summarise each
run (energy per component, carbon operational and embodied, water on-site and
off-site, joules per token, measured or estimated), compare runs, and re-price
the measured energy for other regions::

    from wattprint import report
    fps = report.load_footprints(["wattprint-runs"])
    print(report.render(fps, "table"))
    rows = report.what_if(fps[0], ["IE", "SG", "US-VA"], pue=1.2)

Units: machine-readable outputs (``summarize``, ``what_if``, the ``json`` and
``csv`` formats) keep the footprint's base units and say them in the key
(``energy_it_j``, ``carbon_total_kg``, ``water_total_l``). The ``table`` and
``md`` formats scale each figure to a readable unit (Wh, kWh, g, kg, mL, L).

The package, one job per module: ``load`` (find and read footprints, fold or
merge the per-rank files of distributed jobs), ``summary`` (one flat record
per run), ``what_if`` (re-price for other regions), ``tables`` (display
tables), ``render`` (text, Markdown, JSON, CSV), ``html`` (a self-contained
page), ``plot`` (PNG figures, needs matplotlib) and ``standards`` (SCI, EU AI Act fields,
SPDX 3.0.1, CycloneDX 1.6 and BoAmps 1.1 documents: ``to_sci``, ``to_ai_act``,
``to_spdx``, ``to_cyclonedx``, ``to_boamps``). It imports only the base
modules and the footprint layer.

Failure modes: a path that does not exist, or a file named explicitly that is
not a wattprint footprint, raises :class:`ReportError`. Files in a folder that
are not footprints are skipped (listed in ``LoadResult.skipped``). An unknown
what-if region raises :class:`~wattprint.errors.ConfigError` (from
:func:`wattprint.footprint.accounting.resolve_factors`).
"""

from __future__ import annotations

from wattprint.errors import ReportError
from wattprint.report.load import (
    LoadResult,
    find_footprints,
    load_footprint,
    load_footprints,
)
from wattprint.report.render import (
    FORMATS,
    REPORT_SCHEMA_ID,
    html_table,
    render,
    render_tables,
    report_tables,
)
from wattprint.report.standards import FORMATS as STANDARD_FORMATS
from wattprint.report.standards import to_ai_act, to_boamps, to_cyclonedx, to_sci, to_spdx
from wattprint.report.summary import SUMMARY_FIELDS, summarize
from wattprint.report.tables import Table, comparison_table, run_tables, what_if_table
from wattprint.report.what_if import WHAT_IF_FIELDS, what_if
from wattprint.units import (
    format_carbon,
    format_duration,
    format_energy,
    format_power,
    format_water,
)

__all__ = [
    "REPORT_SCHEMA_ID", "ReportError", "LoadResult", "Table", "FORMATS", "SUMMARY_FIELDS", "WHAT_IF_FIELDS",
    "load_footprint", "load_footprints", "find_footprints", "summarize", "what_if",
    "run_tables", "comparison_table", "what_if_table", "render", "render_tables",
    "format_energy", "format_carbon", "format_water", "format_duration", "format_power",
    "report_tables", "html_table",
    "STANDARD_FORMATS", "to_ai_act", "to_sci", "to_spdx", "to_cyclonedx", "to_boamps",
]
