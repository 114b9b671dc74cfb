"""`wattprint report`: loading, tables in every format, comparison, what-if, the command line."""

from __future__ import annotations

import csv
import io
import json
import math
import os

import pytest
import wattprint as wp
from wattprint import report
from wattprint.cli import app as cli
from wattprint.errors import ConfigError
from wattprint.footprint.accounting import resolve_factors
from wattprint.testing import ManualClock

GPU_TRACE = [(0, 200.0), (5, 300.0), (10, 100.0)]


def tracked_run(out, run_id, *, seconds=20, gpu_trace=GPU_TRACE, cpu_w=50.0, tokens=100, status=None, window_at=5, annotate_with=None, **kw):
    """A real tracked run on replayed sensors, stepped by a manual clock; returns (tracker, footprint)."""
    clock = ManualClock()
    sensors = [
        wp.ReplaySensor(gpu_trace, component_id="gpu:0", kind="gpu", name="Replay GPU"),
        wp.ReplaySensor([(0, cpu_w)], component_id="cpu:package-0", kind="cpu", measured=False, name="Replay CPU"),
    ]
    t = wp.Tracker("demo", run_id=run_id, output_dir=str(out), interval_s=math.inf, clock=clock, handle_signals=False, sensors=sensors, **kw)
    if annotate_with is not None:
        t.annotate("distributed", annotate_with)
    t.start()
    for i in range(seconds):
        clock.advance(1.0)
        t.step(tokens=tokens)
        t.sample_now()
        if i == window_at:
            with t.window("eval"):
                clock.advance(2.0)
    fp = t.stop(status)
    return t, fp


def _regions_available(*codes):
    """True when the accounting knows these region codes (and, to be sure, rejects a made-up one)."""
    try:
        for code in codes:
            resolve_factors(region=code, env={})
    except ConfigError:
        return False
    if codes == ("XX-NOWHERE",):
        return True
    return not _regions_available("XX-NOWHERE")


def run_cli(argv, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# -- loading -----------------------------------------------------------------------


def test_load_folder_and_file_same_figures(tmp_path):
    t, fp = tracked_run(tmp_path / "runs", "r1")
    (tmp_path / "runs" / "notes.json").write_text('{"hello": 1}')
    (tmp_path / "runs" / "broken.json").write_text("{not json")
    by_folder = report.load_footprints([str(tmp_path / "runs")])
    assert [f.run_id for f in by_folder.footprints] == ["r1"]
    assert sorted(os.path.basename(p) for p, _ in by_folder.skipped) == ["broken.json", "notes.json"]
    loaded = by_folder.footprints[0]
    assert loaded.energy_j == pytest.approx(fp.energy_j)
    assert loaded.timeline["t_s"] == fp.timeline["t_s"]
    # the same file named twice, and through its folder, is read once
    again = report.load_footprints([t.json_path, str(tmp_path / "runs"), t.json_path])
    assert len(again.footprints) == 1


def test_explicit_non_footprint_and_missing_path_are_errors(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"schema": "something/1"}')
    with pytest.raises(report.ReportError, match="not a wattprint footprint"):
        report.load_footprints([str(bad)])
    with pytest.raises(report.ReportError, match="no such file"):
        report.load_footprints([str(tmp_path / "nope")])
    trunc = tmp_path / "t.json"
    trunc.write_text('{"schema": "wattprint.footprint/1", "energy": ')
    with pytest.raises(report.ReportError, match="not JSON"):
        report.load_footprint(str(trunc))


def test_runs_in_a_folder_are_ordered_by_start(tmp_path):
    tracked_run(tmp_path, "zzz-first", seconds=3)
    _, fp2 = tracked_run(tmp_path, "aaa-second", seconds=3)
    # give the second run a later start
    doc = json.loads(open(tmp_path / "aaa-second.json").read())
    doc["started_at"] = "2026-01-02T00:00:00.000Z"
    (tmp_path / "aaa-second.json").write_text(json.dumps(doc))
    assert [f.run_id for f in report.load_footprints([str(tmp_path)]).footprints] == ["zzz-first", "aaa-second"]


# -- summaries and tables --------------------------------------------------------------


def test_summary_figures_match_the_footprint(tmp_path):
    _, fp = tracked_run(tmp_path, "r1")
    s = report.summarize(fp)
    d = fp.to_dict()
    # 20 ticks of 1 s plus a 2 s window: GPU 200 W for 5 s, 300 W for 5 s, 100 W after; CPU 50 W throughout
    assert s["duration_s"] == pytest.approx(22.0)
    assert s["energy_gpu_j"] == pytest.approx(200 * 5 + 300 * 5 + 100 * 12)
    assert s["energy_cpu_j"] == pytest.approx(50 * 22)
    assert s["energy_it_j"] == pytest.approx(d["energy"]["it_j"])
    assert s["carbon_total_kg"] == pytest.approx(d["carbon"]["total_kg"])
    assert s["water_offsite_l"] == pytest.approx(d["water"]["offsite_l"])
    assert s["j_per_token"] == pytest.approx(s["energy_it_j"] / 2000)
    assert s["measured"] == "mixed"
    assert s["measured_share"] == pytest.approx(s["energy_gpu_j"] / s["energy_it_j"])
    assert s["flagged"] is False
    assert list(s) == report.SUMMARY_FIELDS


def test_table_shows_components_figures_and_flags(tmp_path):
    tracked_run(tmp_path, "good")
    tracked_run(tmp_path, "broke", status="partial", seconds=4)
    fps = report.load_footprints([str(tmp_path)]).footprints
    text = report.render(fps, "table")
    assert "gpu:0" in text and "cpu:package-0" in text
    assert "measured (replay.counter)" in text and "estimated (replay.counter)" in text
    assert "carbon, operational" in text and "carbon, embodied" in text
    assert "water, on-site" in text and "water, off-site" in text
    assert "energy per token" in text
    assert "window eval" in text
    assert "PARTIAL ⚠" in text
    assert "partial or failed" in text and "broke" in text.split("partial or failed")[1]
    assert "Comparison of 2 runs" in text
    # a compact comparison without the per-run details
    summary = report.render(fps, "table", details=False)
    assert "Comparison of 2 runs" in summary and "carbon, operational" not in summary


def test_units_scale_to_readable_sizes():
    assert report.format_energy(4800.0) == "1.33 Wh"
    assert report.format_energy(3.6e9 * 1.5) == "1.50 MWh"
    assert report.format_energy(12.0) == "12.0 J"
    assert report.format_carbon(0.00095) == "0.950 gCO2e"
    assert report.format_carbon(1234.0) == "1.23 tCO2e"
    assert report.format_water(0.0089) == "8.90 mL"
    assert report.format_water(2500.0) == "2.50 m³"
    assert report.format_duration(22.04) == "22.0 s"
    assert report.format_duration(3725) == "1 h 02 min"
    assert report.format_energy(None) == "–"


def test_markdown_is_a_valid_pipe_table(tmp_path):
    tracked_run(tmp_path, "r1")
    tracked_run(tmp_path, "r2", gpu_trace=[(0, 400.0)])
    md = report.render(report.load_footprints([str(tmp_path)]).footprints, "md")
    tables = [block for block in md.split("\n\n") if block.startswith("|")]
    assert len(tables) >= 5  # 2 × (components, figures) + comparison
    for block in tables:
        lines = block.strip().splitlines()
        widths = {line.count("|") - line.count("\\|") for line in lines}
        assert len(widths) == 1, block  # every row has the header's column count
        assert set(lines[1].replace("|", "")) <= set(":-")


def test_json_and_csv_round_trip(tmp_path):
    tracked_run(tmp_path, "r1")
    tracked_run(tmp_path, "r2", gpu_trace=[(0, 400.0)])
    fps = report.load_footprints([str(tmp_path)]).footprints
    doc = json.loads(report.render(fps, "json"))
    assert doc["schema"] == "wattprint.report/1"
    assert [r["run_id"] for r in doc["runs"]] == ["r1", "r2"]
    assert doc["runs"][1]["energy_gpu_j"] == pytest.approx(400 * 22)
    assert {c["id"] for c in doc["runs"][0]["components"]} == {"gpu:0", "cpu:package-0"}
    rows = list(csv.DictReader(io.StringIO(report.render(fps, "csv"))))
    assert [r["run_id"] for r in rows] == ["r1", "r2"]
    assert list(rows[0]) == report.SUMMARY_FIELDS
    assert float(rows[1]["energy_it_j"]) == pytest.approx(doc["runs"][1]["energy_it_j"])
    with pytest.raises(ValueError, match="format"):
        report.render(fps, "xml")


def test_comparison_columns_share_one_unit_and_state_differences(tmp_path):
    tracked_run(tmp_path, "small", gpu_trace=[(0, 100.0)])
    tracked_run(tmp_path, "big", gpu_trace=[(0, 300.0)])
    fps = report.load_footprints([str(tmp_path / "small.json"), str(tmp_path / "big.json")]).footprints
    table = report.comparison_table(fps)
    gpu_col = next(i for i, h in enumerate(table.headers) if h.startswith("GPU"))
    assert table.headers[gpu_col] == "GPU [Wh]"
    assert [r[gpu_col] for r in table.rows] == ["0.61", "1.83"]  # one number of decimals per column
    # IT: 100*22 + 50*22 = 3300 J vs 300*22 + 1100 = 7700 J: +133%
    assert any("big vs small: energy +133%" in n for n in table.notes)


# -- what-if ------------------------------------------------------------------------------


def test_what_if_with_a_pue_reprices_the_same_energy(tmp_path):
    _, fp = tracked_run(tmp_path, "r1", pue=1.5, intensity_g_per_kwh=400.0)
    rows = report.what_if(fp, ["world"], pue=1.1)
    assert [r["recorded"] for r in rows] == [True, False]
    base, alt = rows
    it_kwh = fp.energy_j / 3.6e6
    assert base["carbon_total_kg"] == pytest.approx(it_kwh * 1.5 * 400 / 1000)
    assert alt["pue"] == 1.1
    assert alt["energy_it_kwh"] == pytest.approx(it_kwh)
    assert alt["energy_facility_kwh"] == pytest.approx(it_kwh * 1.1)
    ci = alt["carbon_intensity_g_per_kwh"]
    assert alt["carbon_operational_kg"] == pytest.approx(it_kwh * 1.1 * ci / 1000)
    assert alt["water_offsite_l"] == pytest.approx(it_kwh * 1.1 * alt["ewif_l_per_kwh"])
    assert alt["water_onsite_l"] == pytest.approx(it_kwh * alt["wue_l_per_kwh"])  # WUE applies to IT energy
    assert alt["carbon_vs_recorded_rel"] == pytest.approx(alt["carbon_total_kg"] / base["carbon_total_kg"] - 1)
    assert list(alt) == report.WHAT_IF_FIELDS


def test_what_if_ignores_wattprint_environment(tmp_path, monkeypatch):
    _, fp = tracked_run(tmp_path, "r1")
    plain = report.what_if(fp, ["world"])[1]
    monkeypatch.setenv("WATTPRINT_PUE", "3.0")
    monkeypatch.setenv("WATTPRINT_REGION", "world")
    assert report.what_if(fp, ["world"])[1]["pue"] == plain["pue"]


def test_what_if_bad_pue_is_a_config_error(tmp_path):
    _, fp = tracked_run(tmp_path, "r1", seconds=3)
    with pytest.raises(ConfigError, match="pue"):
        report.what_if(fp, ["world"], pue=0.5)


@pytest.mark.skipif(_regions_available("XX-NOWHERE"), reason="the accounting does not check region codes yet")
def test_what_if_unknown_region_is_a_config_error(tmp_path, capsys):
    _, fp = tracked_run(tmp_path / "runs", "r1", seconds=3)
    with pytest.raises(ConfigError):
        report.what_if(fp, ["XX-NOWHERE"])
    rc, _, err = run_cli(["report", str(tmp_path / "runs"), "--what-if", "XX-NOWHERE"], capsys)
    assert rc == 2 and "XX-NOWHERE" in err


@pytest.mark.skipif(not _regions_available("IE", "SG", "US-VA", "US-AZ"), reason="regional factor tables not bundled yet")
def test_what_if_regions_show_the_reports_contrasts(tmp_path):
    """Singapore emits more than Virginia for the same energy; Arizona uses more water than Ireland."""
    _, fp = tracked_run(tmp_path, "r1")
    rows = {r["scenario"]: r for r in report.what_if(fp, ["IE", "SG", "US-VA", "US-AZ"])}
    assert rows["SG"]["carbon_operational_kg"] > rows["US-VA"]["carbon_operational_kg"]
    assert rows["US-AZ"]["water_total_l"] > rows["IE"]["water_total_l"]
    for code in ("IE", "SG", "US-VA", "US-AZ"):
        r = rows[code]
        assert r["energy_it_kwh"] == pytest.approx(fp.energy_j / 3.6e6)
        assert r["carbon_operational_kg"] == pytest.approx(r["energy_facility_kwh"] * r["carbon_intensity_g_per_kwh"] / 1000)
    text = report.render([fp], "table", regions=["IE", "SG", "US-VA", "US-AZ"])
    assert "What if run r1" in text and "× " in text


def test_what_if_table_and_csv(tmp_path):
    _, fp = tracked_run(tmp_path, "r1", pue=1.5)
    text = report.render([fp], "table", regions=["world"], pue=1.2)
    assert "What if run r1 had run elsewhere" in text
    assert "world (PUE 1.2)" in text and "-20%" in text  # 1.2 / 1.5 - 1, same intensity
    rows = list(csv.DictReader(io.StringIO(report.render([fp], "csv", pue=1.2))))
    assert [r["recorded"] for r in rows] == ["true", "false"]  # as runs.csv writes booleans
    assert list(rows[0]) == report.WHAT_IF_FIELDS
    doc = json.loads(report.render([fp], "json", pue=1.2))
    assert len(doc["what_if"]) == 2


# -- the command line -------------------------------------------------------------------------


def test_cli_report_folder_formats(tmp_path, capsys):
    tracked_run(tmp_path / "runs", "r1")
    rc, out, err = run_cli(["report", str(tmp_path / "runs")], capsys)
    assert rc == 0 and "Run r1" in out and "gpu:0" in out
    rc, out, _ = run_cli(["report", str(tmp_path / "runs"), "--format", "json"], capsys)
    assert rc == 0 and json.loads(out)["runs"][0]["run_id"] == "r1"
    rc, out, _ = run_cli(["report", str(tmp_path / "runs"), "-f", "csv"], capsys)
    assert rc == 0 and out.splitlines()[0].startswith("run_id,")
    rc, out, _ = run_cli(["report", str(tmp_path / "runs"), "-f", "md", "--pue", "1.2"], capsys)
    assert rc == 0 and "### What if run r1" in out


def test_cli_report_defaults_to_the_output_dir(tmp_path, capsys, monkeypatch):
    tracked_run(tmp_path / "default-out", "r1")
    monkeypatch.setenv("WATTPRINT_OUTPUT_DIR", str(tmp_path / "default-out"))
    rc, out, _ = run_cli(["report"], capsys)
    assert rc == 0 and "Run r1" in out


def test_cli_report_errors(tmp_path, capsys):
    rc, _, err = run_cli(["report", str(tmp_path / "missing")], capsys)
    assert rc == 2 and "no such file" in err
    (tmp_path / "empty").mkdir()
    rc, _, err = run_cli(["report", str(tmp_path / "empty")], capsys)
    assert rc == 2 and "no footprints" in err
    tracked_run(tmp_path / "runs", "r1", seconds=3)
    rc, _, err = run_cli(["report", str(tmp_path / "runs"), "--pue", "0.5"], capsys)
    assert rc == 2 and "pue" in err
    with pytest.raises(SystemExit):
        cli.main(["report", str(tmp_path / "runs"), "--format", "xml"])


def test_a_folder_with_a_distributed_job_counts_its_ranks_once(tmp_path, capsys):
    from wattprint.integrations.distributed import merge_footprints, write_job_footprint

    docs = []
    for rank in (0, 1):
        _, fp = tracked_run(
            tmp_path / "runs", f"job7-rank{rank}", seconds=5,
            annotate_with={"rank": rank, "local_rank": rank, "world_size": 2, "node": "n1", "job_run_id": "job7"},
        )
        docs.append(fp.to_dict())
    job = merge_footprints(docs, run_id="job7", project="demo")
    write_job_footprint(job, str(tmp_path / "runs"))
    loaded = report.load_footprints([str(tmp_path / "runs")])
    assert [f.run_id for f in loaded.footprints] == ["job7"]
    assert sorted(job_id for _, job_id in loaded.folded) == ["job7", "job7"]
    assert len(report.load_footprints([str(tmp_path / "runs")], ranks=True).footprints) == 3
    rc, out, err = run_cli(["report", str(tmp_path / "runs")], capsys)
    assert rc == 0 and "Job (2 ranks on 1 node(s)) job7" in out and "counted in job(s) job7" in err
    rc, out, _ = run_cli(["report", str(tmp_path / "runs"), "--ranks", "--summary"], capsys)
    assert rc == 0 and "Comparison of 3 runs" in out
