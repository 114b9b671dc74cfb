"""Outputs agree in small ways (issue 19): one unit per group of columns, one number of decimals per
column, booleans and unknown cells written alike in runs.csv and the report CSV, FLOPs and CCI shown."""

from __future__ import annotations

import csv
import io

from test_report import tracked_run
from wattprint import report
from wattprint.report.tables import _column


def test_a_column_keeps_one_number_of_decimals():
    assert _column([0.01, 0.008]) == ["0.0100", "0.0080"]
    assert _column([1234.6, 12.0, None]) == ["1,235", "12", "–"]
    assert _column([5.0, 0.0001]) == ["5.00", "1.00e-04"]  # too small for the column's decimals: its own figures, never "0.00"


def test_energy_carbon_and_water_columns_each_share_one_unit(tmp_path):
    # GPU energy in Wh (hundreds of watts) beside a CPU of 1 W whose joules alone would be shown in J
    tracked_run(tmp_path, "a", gpu_trace=[(0, 300.0)], cpu_w=1.0)
    tracked_run(tmp_path, "b", gpu_trace=[(0, 400.0)], cpu_w=1.0)
    fps = report.load_footprints([str(tmp_path / "a.json"), str(tmp_path / "b.json")]).footprints
    headers = report.comparison_table(fps).headers
    energy_units = {h.rsplit("[", 1)[1] for h in headers if h.startswith(("IT energy", "GPU", "CPU"))}
    carbon_units = {h.rsplit("[", 1)[1] for h in headers if h.startswith("CO2e")}
    water_units = {h.rsplit("[", 1)[1] for h in headers if h.startswith("water")}
    assert energy_units == {"Wh]"} and len(carbon_units) == 1 and len(water_units) == 1


def test_report_csv_writes_booleans_and_unknowns_as_runs_csv_does(tmp_path):
    _, fp = tracked_run(tmp_path, "r1")  # a GPU and a CPU: no DRAM or RAM component
    runs = list(csv.DictReader(open(tmp_path / "runs.csv", newline="")))
    rep = list(csv.DictReader(io.StringIO(report.render([fp], "csv"))))
    assert runs[0]["energy.dram_j"] == "" and rep[0]["energy_dram_j"] == ""
    assert rep[0]["flagged"] == "false"
    assert float(runs[0]["energy.gpu_j"]) == float(rep[0]["energy_gpu_j"])


def test_flops_mfu_and_carbon_per_exaflop_appear_in_the_run_report(tmp_path):
    t, fp = tracked_run(tmp_path, "r1", tokens=100)
    doc = fp.to_dict()
    assert doc["work"]["flops"] is None  # nothing counted: no row
    text = report.render([fp], "table")
    assert "FLOPs" not in text
    from wattprint.testing import replay_tracker

    t, clock = replay_tracker(300.0, output_dir=str(tmp_path / "f"), save=False)
    t.start()
    clock.advance(10.0)
    t.step(flops=2.5e15)
    fp = t.stop()
    text = report.render([fp], "table")
    assert "FLOPs" in text and "2.5e15" in text and "carbon per exaFLOP (CCI)" in text and "gCO2e/EFLOP" in text


def test_summary_of_one_run_is_one_row_not_the_full_tables(tmp_path):
    _, fp = tracked_run(tmp_path, "only")
    full = report.render([fp], "table")
    short = report.render([fp], "table", details=False)
    assert "Footprint" in full and "Footprint" not in short and "component" not in short
    assert "Summary of 1 run" in short and "only" in short and len(short.splitlines()) < len(full.splitlines())
