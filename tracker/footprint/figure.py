"""One figure of the footprint's figure table: its key, unit, kind and where it goes.

The table itself, :data:`wattprint.footprint.model.FIGURES`, is built from these rows; this
module holds only the row types, so that they can be imported without the Footprint.

Failure modes: none (frozen dataclasses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

__all__ = ["Figure", "PromFigure", "LOG_PREFIX"]

LOG_PREFIX = "wattprint."  # training logs and MLflow: LOG_PREFIX + figure key (Figure.log_name)


@dataclass(frozen=True)
class PromFigure:
    """How a figure is exposed to Prometheus: family ``name`` (counters end in ``_total``),
    ``type`` (``"counter"``/``"gauge"``), ``help``, the ``scale`` to base units and any
    fixed ``labels`` (``(("scope", "onsite"),)``) telling rows of one family apart."""

    name: str
    type: str
    help: str
    scale: float = 1.0
    labels: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Figure:
    """One flat figure of the footprint.

    Attributes:
        key: the stable flat name (CSV column, MLflow metric after the prefix), a dotted path.
        unit: ``"J"``, ``"kWh"``, ``"kgCO2e"``, ``"L"``, ``"s"``, ``"ratio"``, ``"count"``,
            ``"gCO2e/kWh"``, ``"L/kWh"``, ``"FLOP"``, ``"gCO2e/EFLOP"``, ``"kgCO2e/kWh"``, ``"text"``, ``"time"``, ``"flag"``.
        kind: ``"run"``, ``"energy"``, ``"quality"``, ``"factor"``, ``"carbon"``, ``"water"``, ``"work"``, ``"forecast"``, ``"inference"``.
        csv: a column of ``runs.csv`` (:data:`CSV_FIELDS`).
        metric: an MLflow metric.
        summary: its name in the report summary (``wattprint.report.SUMMARY_FIELDS``), or ``None``.
        prometheus: its Prometheus family, or ``None``.
        path: the document path when it is not ``key``; ``value``: a derived figure's accessor.
        csv_default: the CSV cell when the value is ``None``.
    """

    key: str
    unit: str
    kind: str
    csv: bool = False
    metric: bool = False
    summary: Optional[str] = None
    prometheus: Optional[PromFigure] = None
    path: Optional[str] = None
    value: Optional[Callable[[Any], Any]] = None  # Footprint -> value
    csv_default: Any = None

    @property
    def numeric(self) -> bool:
        return self.unit not in ("text", "time", "flag")

    @property
    def log_name(self) -> str:
        """Its name in training logs (Lightning, HF Trainer, TensorBoard) and MLflow: ``wattprint.`` + key,
        e.g. ``wattprint.energy.it_kwh``; the CSV column is the key, the Prometheus family its base-unit twin."""
        return LOG_PREFIX + self.key

    @property
    def setting(self) -> bool:
        """A factor the run was priced with (PUE, grid intensity, WUE): an MLflow param, not a metric."""
        return self.kind == "factor"
