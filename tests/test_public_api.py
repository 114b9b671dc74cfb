"""The public imports users and docs depend on keep working across the layering (issue 11, item 7)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

TOP = [
    "Tracker", "track", "new_run_id", "Footprint", "footprint_schema", "estimate", "ReplaySensor", "Sensor",
    "Component", "SCHEMA_ID", "CSV_FIELDS", "ConfigError", "SensorError", "SensorLost", "SensorNotSupported",
    "SensorPermissionError", "SensorUnavailable", "WattprintError", "__version__",
]
MODULES = {
    "wattprint.exporters": ["JsonExporter", "CsvExporter", "MemoryExporter", "PrometheusExporter", "ModelCardExporter", "MlflowExporter"],
    "wattprint.exporters.live": ["LiveStatus"],
    "wattprint.integrations.torch": ["attach"],
    "wattprint.integrations.lightning": ["WattprintCallback"],
    "wattprint.integrations.transformers": ["WattprintCallback", "attach"],
    "wattprint.integrations.distributed": ["DistributedTracker", "merge_footprints", "write_job_footprint", "rank_info", "RankInfo", "all_reduce_sum"],
    "wattprint.report": ["render", "load_footprints", "summarize", "what_if", "ReportError"],
    "wattprint.report.plot": ["save_png", "html_page", "save_html", "PlotUnavailable"],
    "wattprint.testing": ["ManualClock", "StepEvent", "replay_tracker"],
    "wattprint.footprint": ["Footprint", "FIGURES", "CSV_FIELDS", "SCHEMA_ID"],
    "wattprint.units": ["J_PER_KWH", "format_energy", "iso_utc", "parse_utc"],
}


def test_top_level_names():
    import wattprint

    missing = [n for n in TOP if not hasattr(wattprint, n)]
    assert not missing, missing
    assert set(TOP) - {"__version__"} <= set(wattprint.__all__)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_names(module):
    mod = importlib.import_module(module)
    missing = [n for n in MODULES[module] if not hasattr(mod, n)]
    assert not missing, f"{module} lacks {missing}"


def test_import_pulls_no_framework_or_driver():
    code = "import sys, wattprint, wattprint.exporters, wattprint.report; print(sorted(m for m in ('torch','pynvml','lightning','transformers','matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out
