"""Lay a report out: terminal text, Markdown, JSON or CSV (:data:`FORMATS`).

:func:`render` is the report in one call (per-run tables, the comparison of
several runs, what-if scenarios); :func:`report_tables` and
:func:`render_tables` are its two halves, for callers that add their own
tables. ``table`` and ``md`` show the display strings of
:mod:`wattprint.report.tables` (readable units, ``–`` when unknown). ``json``
(schema :data:`REPORT_SCHEMA_ID`) and ``csv`` carry the machine-readable
records of :func:`~wattprint.report.summary.summarize` and
:func:`~wattprint.report.what_if.what_if` in base units named in the keys
(``energy_it_j``, ``carbon_total_kg``, ``water_total_l``); an unknown figure is
``null`` in JSON and an empty cell in CSV. HTML lives in
:mod:`wattprint.report.html` (:func:`html_table` is re-exported here).

CSV cells go through :func:`wattprint._io.csv_cell` (text that would start a
spreadsheet formula gets a leading ``'``); booleans are ``true``/``false`` and unknown
figures empty, as in ``runs.csv``.

Failure modes: an unknown format raises ``ValueError``; an unknown what-if
region raises :class:`~wattprint.errors.ConfigError`. Terminal tables cut
cells longer than 72 characters with ``…``; the other formats keep them whole.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence

from wattprint._io import csv_cell, csv_line, md_escape, visible
from wattprint.report.carbon_aware import carbon_aware_table
from wattprint.report.html import html_table
from wattprint.report.load import document_of
from wattprint.report.summary import SUMMARY_FIELDS, summarize
from wattprint.report.tables import Table, comparison_table, run_tables, what_if_table
from wattprint.report.what_if import WHAT_IF_FIELDS, what_if

__all__ = ["REPORT_SCHEMA_ID", "FORMATS", "render", "render_tables", "report_tables", "html_table"]

REPORT_SCHEMA_ID = "wattprint.report/1"

FORMATS = ("table", "md", "json", "csv")

_MAX_CELL = 72  # terminal tables cut longer cells (factor sources) with "…"; md, json and csv keep them whole


_visible = visible  # the one terminal sanitiser (wattprint._io.visible)


def _cut(cell: str) -> str:
    cell = _visible(cell)
    return cell if len(cell) <= _MAX_CELL else cell[: _MAX_CELL - 1] + "…"


def _text_table(t: Table) -> str:
    t = Table(_visible(t.title), [_visible(h) for h in t.headers], [[_cut(c) for c in r] for r in t.rows], t.align,
              [_visible(n) for n in t.notes])  # fmt: skip
    widths = [len(h) for h in t.headers]
    for row in t.rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(widths[i]) if t.align[i] == "r" else c.ljust(widths[i]) for i, c in enumerate(cells)]
        return "  " + "  ".join(parts).rstrip()

    out = [t.title, line(t.headers), "  " + "  ".join("─" * w for w in widths)]
    out += [line(r) for r in t.rows]
    out += ["  " + n for n in t.notes]
    return "\n".join(out)


_md_escape = md_escape  # the one Markdown sanitiser (wattprint._io.md_escape)


def _md_table(t: Table) -> str:
    out = [f"### {_md_escape(t.title)}", ""]
    out.append("| " + " | ".join(_md_escape(h) for h in t.headers) + " |")
    out.append("|" + "|".join("---:" if a == "r" else ":---" for a in t.align) + "|")
    out += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in t.rows]
    if t.notes:
        out.append("")
        out += [f"- {_md_escape(n)}" for n in t.notes]
    return "\n".join(out)


def render_tables(tables: Sequence[Table], fmt: str = "table") -> str:
    """Tables as terminal text (``table``) or Markdown (``md``)."""
    if fmt == "md":
        return "\n\n".join(_md_table(t) for t in tables) + "\n"
    if fmt == "table":
        return "\n\n".join(_text_table(t) for t in tables) + "\n"
    raise ValueError(f"render_tables: fmt must be 'table' or 'md', got {fmt!r}")


def report_tables(footprints: Sequence[Any], *, what_if_rows: Optional[Sequence[Sequence[Mapping[str, Any]]]] = None, details: bool = True) -> List[Table]:
    """Every table of a report: per-run tables (``details``), the comparison (2+ runs, or one
    run's one-row summary without ``details``), what-if tables."""
    tables: List[Table] = []
    if details:
        for fp in footprints:
            tables.extend(run_tables(fp))
            ca = carbon_aware_table(fp)  # the carbon_aware section, when the run has one
            if ca is not None:
                tables.append(ca)
    if len(footprints) > 1 or (footprints and not details):
        tables.append(comparison_table(footprints))
    for rows in what_if_rows or []:
        tables.append(what_if_table(rows))
    return tables


def render(
    footprints: Sequence[Any],
    fmt: str = "table",
    *,
    regions: Sequence[str] = (),
    pue: Optional[float] = None,
    details: bool = True,
) -> str:
    """The report of ``footprints`` in ``fmt`` (one of :data:`FORMATS`).

    ``regions``/``pue`` add what-if scenarios (see :func:`what_if`). In
    ``csv`` the rows are the runs, or the what-if rows when scenarios are given.

    Raises:
        ValueError: an unknown format. ConfigError: an unknown region.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    wi: List[List[Dict[str, Any]]] = []
    if regions or pue is not None:
        for fp in footprints:
            wi.append(what_if(fp, list(regions) or [str(document_of(fp).get("region") or "world")], pue=pue))
    if fmt in ("table", "md"):
        return render_tables(report_tables(footprints, what_if_rows=wi, details=details), fmt)
    if fmt == "json":
        runs = []
        for fp in footprints:
            s = summarize(fp)
            s["components"] = [
                {k: c.get(k) for k in ("id", "kind", "name", "source", "measured", "energy_j", "mean_power_w", "peak_power_w")}
                for c in document_of(fp).get("components") or []
            ]
            runs.append(s)
        doc: Dict[str, Any] = {"schema": REPORT_SCHEMA_ID, "runs": runs}
        if wi:
            doc["what_if"] = [r for rows in wi for r in rows]
        return json.dumps(doc, indent=2, default=str) + "\n"
    fields = WHAT_IF_FIELDS if wi else SUMMARY_FIELDS
    lines = [csv_line(fields)]
    for row in ([r for rows in wi for r in rows] if wi else [summarize(fp) for fp in footprints]):
        lines.append(csv_line([_report_cell(row.get(k)) for k in fields]))
    return "".join(lines)


def _report_cell(value: Any) -> Any:
    """A report CSV cell: empty when unknown, text made formula-safe (:func:`~wattprint._io.csv_cell`)."""
    return csv_cell(value)  # the one cell writer runs.csv uses: true/false, floats in full
