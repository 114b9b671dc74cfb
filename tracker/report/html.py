"""The report as one self-contained HTML page: tables, plots inlined as PNG, what-if scenarios.

:func:`html_page` returns the page as text and :func:`save_html` writes it
atomically; :func:`html_table` renders one :class:`~wattprint.report.tables.Table`
as an escaped fragment. The page references nothing external: no scripts,
style sheets or fonts; each run's figure (:func:`wattprint.report.plot.figure_png`)
is embedded as a base64 ``data:`` URI. Figures are in the tables' readable units
(:mod:`wattprint.units`); the generation time in the header is UTC.

Failure modes: without matplotlib the page has the tables only and says why
(no error); an unknown what-if region raises
:class:`~wattprint.errors.ConfigError`; :func:`save_html` raises ``OSError``
when the file cannot be written (no partial file is left).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
from typing import Any, Optional, Sequence

from wattprint.errors import PlotUnavailable
from wattprint.report.load import as_footprint
from wattprint.report.plot import MAX_RUNS, figure_png, require_matplotlib
from wattprint.report.tables import Table, comparison_table, run_tables, what_if_table
from wattprint.report.what_if import what_if

__all__ = ["html_table", "html_page", "save_html"]


def html_table(t: Table) -> str:
    """One table as an HTML fragment (escaped)."""
    e = html.escape
    out = [f"<h3>{e(t.title)}</h3>", "<table>", "<thead><tr>"]
    out += [f'<th class="{"num" if a == "r" else ""}">{e(h)}</th>' for h, a in zip(t.headers, t.align, strict=True)]
    out.append("</tr></thead><tbody>")
    for r in t.rows:
        out.append("<tr>" + "".join(f'<td class="{"num" if a == "r" else ""}">{e(c)}</td>' for c, a in zip(r, t.align, strict=True)) + "</tr>")
    out.append("</tbody></table>")
    if t.notes:
        out.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in t.notes) + "</ul>")
    return "\n".join(out)


_CSS = """
*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em;overflow-wrap:anywhere}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1em;margin:1.2em 0 .4em}
table{border-collapse:collapse;font-size:.85em;margin-bottom:.5em;max-width:100%}th,td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;overflow-wrap:normal}ul{font-size:.85em;color:#444}
img{max-width:100%;height:auto;border:1px solid #eee}.flag{color:#b30000;font-weight:bold}footer{margin-top:3em;font-size:.8em;color:#777}
"""


def html_page(
    footprints: Sequence[Any],
    *,
    regions: Sequence[str] = (),
    pue: Optional[float] = None,
    title: str = "wattprint report",
    plots: bool = True,
    max_runs: int = MAX_RUNS,
) -> str:
    """A self-contained HTML page: per-run tables with their plot (PNG inlined as
    base64), the comparison across runs, and what-if tables. Nothing external is
    referenced. Without matplotlib (or ``plots=False``) the page has the tables only.

    Raises:
        ConfigError: an unknown what-if region.
    """
    fps = [as_footprint(f) for f in footprints]
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{len(fps)} run(s). Generated {e(_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))} by wattprint.</p>",
    ]
    plot_note = None
    if plots:
        try:
            require_matplotlib()
        except PlotUnavailable as err:
            plots, plot_note = False, str(err)
    if plot_note:
        parts.append(f"<p class='flag'>{e(plot_note)}</p>")
    if len(fps) > 1:
        parts.append("<h2>Comparison</h2>")
        parts.append(html_table(comparison_table(fps)))
    for i, fp in enumerate(fps):
        d = fp.to_dict()
        flag = " <span class='flag'>⚠ " + e(str(d.get("status")).upper()) + "</span>" if d.get("status") in ("partial", "failed") else ""
        parts.append(f"<h2>Run {e(str(d.get('run_id')))}{flag}</h2>")
        if plots and i < max_runs:
            data = base64.b64encode(figure_png([fp])).decode("ascii")
            parts.append(f'<img alt="power timeline and breakdown of run {e(str(d.get("run_id")))}" src="data:image/png;base64,{data}">')
        for t in run_tables(fp):
            parts.append(html_table(t))
        if regions or pue is not None:
            rows = what_if(fp, list(regions) or [str(d.get("region") or "world")], pue=pue)
            parts.append(html_table(what_if_table(rows)))
    parts.append("<footer>Energy is measured IT energy unless marked estimated; facility energy = IT × PUE; "
                 "carbon = facility kWh × grid intensity (+ embodied); water on-site = IT kWh × WUE, off-site = facility kWh × EWIF.</footer>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def save_html(footprints: Sequence[Any], path: str, **kwargs: Any) -> str:
    """Write :func:`html_page` to ``path`` (atomically) and return ``path``."""
    from wattprint._io import atomic_write_text

    atomic_write_text(path, html_page(footprints, **kwargs))
    return path
