"""Plots and the HTML page: real matplotlib, real tracked runs on replayed sensors."""

from __future__ import annotations

import base64
import io
import math
import re
import sys

import pytest
import wattprint as wp
from wattprint.cli import app as cli
from wattprint.report import plot
from wattprint.testing import ManualClock

matplotlib = pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tracked_run(out, run_id, *, seconds=12, status=None):
    clock = ManualClock()
    sensors = [
        wp.ReplaySensor([(0, 120.0), (4, 280.0), (8, 90.0)], component_id="gpu:0", kind="gpu", name="Replay GPU"),
        wp.ReplaySensor([(0, 40.0)], component_id="cpu:package-0", kind="cpu", measured=False, name="Replay CPU"),
    ]
    t = wp.Tracker("demo", run_id=run_id, output_dir=str(out), interval_s=math.inf, clock=clock, handle_signals=False, sensors=sensors)
    t.start()
    for i in range(seconds):
        clock.advance(1.0)
        t.step(tokens=64)
        t.sample_now()
        if i == 3:
            with t.window("eval"):
                clock.advance(2.0)
    return t, t.stop(status)


def _png_size(data: bytes):
    from matplotlib import image

    arr = image.imread(io.BytesIO(data), format="png")
    return arr.shape[1], arr.shape[0]


def test_power_series_matches_the_replayed_trace(tmp_path):
    _, fp = tracked_run(tmp_path, "r1")
    t, power = plot.power_series(fp)
    assert set(power) == {"gpu:0", "cpu:package-0"}
    by_t = dict(zip(t, power["gpu:0"], strict=True))
    assert math.isnan(power["gpu:0"][0])  # no interval ends at the first point
    assert by_t[2.0] == pytest.approx(120.0)
    assert by_t[12.0] == pytest.approx(90.0)
    assert all(p == pytest.approx(40.0) for p in power["cpu:package-0"] if not math.isnan(p))


def test_power_series_recomputed_without_power_column(tmp_path):
    _, fp = tracked_run(tmp_path, "r1")
    doc = fp.to_dict()
    tl = dict(fp.timeline)
    tl.pop("power_w")
    t, power = plot.power_series(wp.Footprint(doc, tl))
    assert dict(zip(t, power["gpu:0"], strict=True))[2.0] == pytest.approx(120.0)


def test_breakdown_parts_sum_to_the_totals(tmp_path):
    _, fp = tracked_run(tmp_path, "r1")
    rows = {name: (total, parts) for name, total, parts in plot.breakdown(fp)}
    assert rows["energy"][0] == pytest.approx(sum(v for _, v in rows["energy"][1]))
    assert rows["water"][0] == pytest.approx(sum(v for _, v in rows["water"][1]))
    assert rows["carbon"][0] == pytest.approx(sum(v for _, v in rows["carbon"][1]))


def test_png_has_one_row_per_run(tmp_path):
    _, a = tracked_run(tmp_path, "a")
    _, b = tracked_run(tmp_path, "b", status="partial")
    one = plot.figure_png([a], dpi=50)
    two = plot.figure_png([a, b], dpi=50)
    assert one.startswith(PNG_MAGIC) and two.startswith(PNG_MAGIC)
    (w1, h1), (w2, h2) = _png_size(one), _png_size(two)
    assert w1 == w2 and h2 > 1.8 * h1
    assert _png_size(plot.figure_png([a, b, a], dpi=50, max_runs=1)) == (w1, h1)
    with pytest.raises(ValueError):
        plot.figure_png([])


def test_footprint_without_timeline_still_plots(tmp_path):
    _, fp = tracked_run(tmp_path, "r1")
    bare = wp.Footprint(fp.to_dict(), {})
    assert plot.figure_png([bare], dpi=40).startswith(PNG_MAGIC)


def test_html_is_self_contained(tmp_path):
    _, a = tracked_run(tmp_path, "a")
    _, b = tracked_run(tmp_path, "b", status="failed")
    page = plot.html_page([a, b], pue=1.2, title="my <runs>")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>my &lt;runs&gt;</title>" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2 and all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    # nothing is fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page and "<script" not in page
    assert "Comparison" in page and "What if run a" in page and "⚠ FAILED" in page
    assert page.count("<table>") == 2 * 3 + 1  # per run: components, figures, what-if; plus the comparison


def test_html_without_matplotlib_has_the_tables(tmp_path, monkeypatch):
    _, a = tracked_run(tmp_path, "a")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(plot.PlotUnavailable, match="wattprint\\[plot\\]"):
        plot.figure_png([a])
    page = plot.html_page([a])
    assert "data:image/png" not in page and "pip install" in page and "<table>" in page


def test_cli_plot_and_html(tmp_path, capsys):
    tracked_run(tmp_path / "runs", "r1")
    png, page = tmp_path / "out" / "power.png", tmp_path / "report.html"
    rc = cli.main(["report", str(tmp_path / "runs"), "--plot", str(png), "--html", str(page), "--what-if", "world"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert "wrote " + str(png) in err and "wrote " + str(page) in err
    assert "data:image/png;base64," in page.read_text() and "Run r1" in out


def test_cli_plot_unwritable_path_is_reported(tmp_path, capsys):
    tracked_run(tmp_path / "runs", "r1", seconds=3)
    (tmp_path / "file").write_text("x")
    rc = cli.main(["report", str(tmp_path / "runs"), "--plot", str(tmp_path / "file" / "p.png")])
    _, err = capsys.readouterr()
    assert rc == 1 and "cannot write" in err


def test_html_lives_in_report_html_and_stays_importable_from_plot():
    import importlib

    from wattprint import errors, report
    from wattprint.report import html
    from wattprint.report.plot import PlotUnavailable, html_page, save_html

    assert html_page is html.html_page and save_html is html.save_html
    assert PlotUnavailable is errors.PlotUnavailable and issubclass(PlotUnavailable, errors.WattprintError)
    assert report.ReportError is errors.ReportError
    render_module = importlib.import_module("wattprint.report.render")  # report.render is the function
    assert render_module.html_table is html.html_table is report.html_table
    with pytest.raises(AttributeError):
        plot.no_such_name  # noqa: B018
