"""wattprint.report.summary: one flat, unit-named record per run.

The record's fields and their order are derived from
:data:`wattprint.footprint.model.FIGURES` (the rows with a ``summary`` name),
as are the CSV header and the exporters' metrics.

:class:`SummaryFootprint` is a run reduced to its record (what the comparison
table and the CSV/Markdown summaries read), so a report over ten thousand runs
keeps a few kB per run instead of whole documents; :func:`summarize` hands its
record back as is.

Failure modes: none; a document missing a section gives ``None`` for its figures.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Sequence

from wattprint.footprint.model import FIGURES, Figure, Footprint
from wattprint.units import as_float

__all__ = ["SUMMARY_FIELDS", "summary_fields", "summarize", "SummaryFootprint"]

_KEPT_KEYS = ("schema", "run_id", "project", "status", "started_at", "ended_at", "duration_s", "region", "distributed")


def summary_fields(figures: Sequence[Figure] = FIGURES) -> List[str]:
    """The summary's field names derived from a figure table, in its order."""
    return [f.summary for f in figures if f.summary]


SUMMARY_FIELDS: List[str] = summary_fields()


def _doc(fp: Any) -> Dict[str, Any]:
    return fp.to_dict() if isinstance(fp, Footprint) else dict(fp)


def summarize(fp: Any, figures: Sequence[Figure] = FIGURES) -> Dict[str, Any]:
    """One flat, unit-named record of a run (keys :data:`SUMMARY_FIELDS`).

    ``fp`` is a :class:`Footprint` or a footprint document. ``measured`` is
    ``"measured"``, ``"estimated"`` or ``"mixed"``; ``flagged`` is true for
    partial and failed runs. Unknown figures are ``None``; numbers are finite
    floats (counts as recorded).
    """
    if isinstance(fp, SummaryFootprint) and figures is FIGURES:
        return dict(fp.record)
    view = fp if isinstance(fp, Footprint) else Footprint(dict(fp))
    out: Dict[str, Any] = {}
    for fig in figures:
        if fig.summary:
            value = view.figure(fig)
            out[fig.summary] = as_float(value) if fig.numeric and fig.unit != "count" else value
    return out


class SummaryFootprint(Footprint):
    """A run reduced to its summary record plus a few header keys (run id, status, start, region,
    ``distributed``): no components, windows or timeline. ``summarize`` returns ``record``."""

    __slots__ = ("record",)

    def __init__(self, fp: Footprint) -> None:
        doc = fp._doc  # read-only here; only the small header keys are kept
        super().__init__({k: doc[k] for k in _KEPT_KEYS if k in doc}, None)
        self.record: Dict[str, Any] = {sys.intern(k): v for k, v in summarize(fp).items()}
