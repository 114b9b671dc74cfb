"""One FIGURES table: the CSV header, the report summary, MLflow metrics and Prometheus families derive from it."""

from __future__ import annotations

import dataclasses

import pytest
from wattprint import CSV_FIELDS, Footprint
from wattprint.exporters.mlflow import footprint_metrics, metric_keys
from wattprint.footprint.model import FIGURES, Figure, PromFigure, csv_fields
from wattprint.report.summary import SUMMARY_FIELDS, summarize, summary_fields

# Today's names, written out once: old runs.csv files and dashboards keep matching.
CSV_TODAY = [
    "schema", "run_id", "project", "status", "started_at", "ended_at", "duration_s", "host.hostname", "region",
    "energy.it_j", "energy.it_kwh", "energy.facility_kwh", "energy.gpu_j", "energy.cpu_j", "energy.dram_j", "energy.ram_j",
    "measured_share", "factors.pue", "factors.carbon_intensity_g_per_kwh", "factors.wue_l_per_kwh", "factors.ewif_l_per_kwh",
    "carbon.operational_kg", "carbon.embodied_kg", "carbon.total_kg", "water.onsite_l", "water.offsite_l", "water.total_l",
    "work.steps", "work.samples", "work.tokens", "work.flops", "work.j_per_token", "work.mfu", "work.cci_g_per_eflop",
    "components", "gaps",
]
SUMMARY_TODAY = [
    "run_id", "project", "status", "flagged", "started_at", "duration_s", "region", "energy_it_j", "energy_it_kwh",
    "energy_facility_kwh", "energy_gpu_j", "energy_cpu_j", "energy_dram_j", "energy_ram_j", "energy_other_j",
    "measured_share", "measured", "pue", "carbon_intensity_g_per_kwh", "wue_l_per_kwh", "ewif_l_per_kwh",
    "carbon_operational_kg", "carbon_embodied_kg", "carbon_total_kg", "water_onsite_l", "water_offsite_l", "water_total_l",
    "steps", "samples", "tokens", "flops", "j_per_step", "j_per_sample", "j_per_token", "mfu", "cci_g_per_eflop", "forecast_energy_j", "forecast_progress", "notes",
    "cue_kg_per_kwh", "carbon_scope2_location_kg", "carbon_scope2_market_kg", "carbon_scope3_embodied_kg", "water_source", "task_stage",
    "water_withdrawal_onsite_l", "water_withdrawal_offsite_l", "water_withdrawal_total_l", "requests", "tokens_out",
    "inference_energy_j", "inference_idle_energy_j", "j_per_request", "wh_per_1000_requests", "carbon_g_per_request",
    "water_ml_per_request",
]
MLFLOW_TODAY = {
    "duration_s", "energy.it_j", "energy.it_kwh", "energy.facility_kwh", "carbon.operational_kg", "carbon.embodied_kg",
    "carbon.total_kg", "water.onsite_l", "water.offsite_l", "water.total_l", "work.steps", "work.samples", "work.tokens",
    "work.flops", "work.j_per_step", "work.j_per_sample", "work.j_per_token", "work.mfu", "work.cci_g_per_eflop",
    "factors.pue", "factors.carbon_intensity_g_per_kwh", "factors.wue_l_per_kwh", "factors.ewif_l_per_kwh",
    "carbon.cue_kg_per_kwh", "carbon.scope2_location_kg", "carbon.scope2_market_kg", "carbon.scope3_embodied_kg",
    "water.withdrawal_onsite_l", "water.withdrawal_offsite_l", "water.withdrawal_total_l", "inference.requests",
    "inference.tokens_out", "inference.energy_j", "inference.idle_energy_j", "inference.j_per_request",
    "inference.wh_per_1000_requests", "inference.carbon_g_per_request", "inference.water_ml_per_request",
}
PROMETHEUS_TODAY = {
    "wattprint_energy_joules_total", "wattprint_power_watts", "wattprint_facility_energy_joules_total",
    "wattprint_carbon_grams_total", "wattprint_water_cubic_meters_total", "wattprint_steps_total", "wattprint_samples_total",
    "wattprint_tokens_total", "wattprint_run_duration_seconds", "wattprint_pue_ratio", "wattprint_grid_intensity_grams_per_joule",
    "wattprint_forecast_energy_joules", "wattprint_progress_ratio", "wattprint_last_update_timestamp_seconds", "wattprint_run_info",
}

WIDGETS = Figure("work.widgets", "count", "work", csv=True, metric=True, summary="widgets",
                 prometheus=PromFigure("wattprint_widgets_total", "counter", "Widgets counted."))


def _doc(**extra):
    doc = {
        "schema": "wattprint.footprint/1", "run_id": "r1", "status": "completed", "duration_s": 10.0,
        "energy": {"it_j": 100.0, "it_kwh": 100.0 / 3.6e6, "facility_kwh": 1.2 * 100.0 / 3.6e6},
        "components": [
            {"id": "gpu:0", "kind": "gpu", "energy_j": 75.0, "measured": True, "source": "nvml"},
            {"id": "cpu", "kind": "cpu", "energy_j": 20.0, "measured": False, "source": "tdp"},
            {"id": "fan", "kind": "fan", "energy_j": 5.0, "measured": False, "source": "x"},
        ],
        "factors": {"pue": {"value": 1.2}, "carbon_intensity_g_per_kwh": {"value": 300.0}},
        "carbon": {"operational_kg": 1e-5, "embodied_kg": 2e-6, "total_kg": 1.2e-5},
        "work": {"steps": 4, "widgets": 7},
        "gaps": [],
    }
    doc.update(extra)
    return doc


def test_todays_names_are_unchanged():
    assert CSV_FIELDS == CSV_TODAY == csv_fields()
    assert SUMMARY_FIELDS == SUMMARY_TODAY == summary_fields()
    assert set(metric_keys()) == MLFLOW_TODAY and len(metric_keys()) == len(MLFLOW_TODAY)
    prometheus = pytest.importorskip("wattprint.exporters.prometheus")
    assert {m["name"] for m in prometheus.METRICS} == PROMETHEUS_TODAY


def test_every_consumer_is_derived_from_the_table():
    table = FIGURES + (WIDGETS,)
    fp = Footprint(_doc())
    assert csv_fields(table) == CSV_TODAY + ["work.widgets"]
    assert fp.csv_row(table)["work.widgets"] == 7 and list(fp.csv_row(table)) == CSV_TODAY + ["work.widgets"]
    assert summary_fields(table) == SUMMARY_TODAY + ["widgets"] and summarize(fp, table)["widgets"] == 7
    assert "work.widgets" in metric_keys(table) and footprint_metrics(fp, figures=table)["wattprint.work.widgets"] == 7.0
    # and dropping a row drops it everywhere
    fewer = tuple(f for f in FIGURES if f.key != "work.steps")
    assert "work.steps" not in csv_fields(fewer) and "steps" not in summarize(fp, fewer)
    assert "wattprint.work.steps" not in footprint_metrics(fp, figures=fewer)


def test_prometheus_families_are_derived_from_the_table():
    prometheus = pytest.importorskip("wattprint.exporters.prometheus")
    table = FIGURES + (WIDGETS,)
    assert "wattprint_widgets_total" in {m["name"] for m in prometheus.metric_table(table)}
    collector = prometheus.FootprintCollector(figures=table)
    collector.update(Footprint(_doc()))
    families = {f.name: f for f in collector.collect()}
    assert [s.value for s in families["wattprint_widgets"].samples if s.name == "wattprint_widgets_total"] == [7.0]
    scaled = families["wattprint_carbon_grams"].samples
    assert sorted((s.labels["scope"], s.value) for s in scaled if s.name.endswith("_total")) == [
        ("embodied", pytest.approx(2e-3)), ("operational", pytest.approx(1e-2))]
    fewer = tuple(f for f in FIGURES if f.key != "work.steps")
    plain = prometheus.FootprintCollector(figures=fewer)
    plain.update(Footprint(_doc()))
    assert "wattprint_steps" not in {f.name for f in plain.collect()}


def test_table_rows_are_consistent():
    keys = [f.key for f in FIGURES]
    assert len(keys) == len(set(keys))
    summaries = [f.summary for f in FIGURES if f.summary]
    assert len(summaries) == len(set(summaries))
    families = {}
    for f in FIGURES:
        if f.prometheus is not None:
            families.setdefault(f.prometheus.name, set()).add((f.prometheus.type, f.prometheus.help, tuple(k for k, _ in f.prometheus.labels)))
            assert f.prometheus.type in ("counter", "gauge") and f.prometheus.name.endswith("_total") == (f.prometheus.type == "counter")
    assert all(len(v) == 1 for v in families.values()), "rows of one family share type, help and label names"
    for f in FIGURES:
        assert f.unit and f.kind in ("run", "energy", "quality", "factor", "carbon", "water", "work", "forecast", "inference")
        assert dataclasses.is_dataclass(f)


def test_derived_figures_are_computed_once_and_agree():
    fp = Footprint(_doc())
    assert fp.measured_share() == pytest.approx(0.75)
    assert fp.energy_by_kind_j() == {"gpu": 75.0, "cpu": 20.0, "other": 5.0}
    row, s = fp.csv_row(), summarize(fp)
    assert row["measured_share"] == s["measured_share"] == fp.measured_share()
    assert row["energy.gpu_j"] == s["energy_gpu_j"] == 75.0 and s["energy_other_j"] == 5.0
    assert row["energy.dram_j"] is None and s["energy_dram_j"] is None  # no DRAM component: unknown (empty), in runs.csv as in the report
    assert s["measured"] == "mixed" and s["pue"] == 1.2 and s["wue_l_per_kwh"] is None
    assert summarize(fp.to_dict()) == s  # a document or a Footprint: the same record
