"""Exporters for wattprint footprints: JSON, CSV, Prometheus, model card, MLflow, OpenTelemetry (OTLP).

Every exporter implements the protocol of :mod:`wattprint.run.exporting`:
``export(footprint)`` at the end of a run, optionally ``on_sample(footprint)``
(live, partial footprints) and ``close()``. Pass instances to
``wattprint.Tracker(exporters=[...])``; each runs isolated in its own thread,
so one that fails or hangs never breaks the run or another exporter.

Importing this package imports no optional dependency: ``prometheus_client``,
``huggingface_hub``, ``mlflow`` and ``opentelemetry`` are imported when an exporter that needs
them is constructed or used.
"""

from __future__ import annotations

from typing import Any

from wattprint.exporters.csv_file import CsvExporter
from wattprint.exporters.json_file import JsonExporter
from wattprint.exporters.memory import MemoryExporter

__all__ = ["JsonExporter", "CsvExporter", "MemoryExporter", "PrometheusExporter", "ModelCardExporter", "MlflowExporter", "OtlpExporter"]

_LAZY = {
    "PrometheusExporter": ".prometheus",
    "ModelCardExporter": ".modelcard",
    "MlflowExporter": ".mlflow",
    "OtlpExporter": ".otlp",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
