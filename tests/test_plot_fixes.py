"""Plot corners (issues 19 and 17): one time unit per figure, short windows visible, unknown embodied
carbon not drawn as 0 %, the format chosen by the extension, names drawn as written (no mathtext)."""

from __future__ import annotations

import json
import math

import pytest
from test_report import tracked_run
from wattprint.cli import app as cli
from wattprint.report import plot

pytest.importorskip("matplotlib")


def test_every_row_of_a_figure_uses_one_time_unit(tmp_path, monkeypatch):
    _, short = tracked_run(tmp_path, "short", seconds=20)
    _, long = tracked_run(tmp_path, "long", seconds=400)  # > 180 s: minutes
    seen = []
    real = plot._draw_power
    monkeypatch.setattr(plot, "_draw_power", lambda ax, fp, colors, unit: (seen.append(unit), real(ax, fp, colors, unit)))
    plot.figure_png([short, long])
    assert [u[0] for u in seen] == ["min", "min"]


def test_a_short_window_keeps_a_visible_span(tmp_path):
    from matplotlib.figure import Figure

    tracked_run(tmp_path, "r", seconds=3000, window_at=10_000)
    doc = json.load(open(tmp_path / "r.json"))  # the file holds the timeline
    doc["windows"] = [{"name": "blink", "start_s": 100.0, "duration_s": 0.1}]
    ax = Figure().subplots()
    plot._draw_power(ax, plot.as_footprint(doc), {}, ("min", 60.0))
    widths = [p.get_width() for p in ax.patches]
    xmin, xmax = ax.get_xlim()
    assert widths and max(widths) >= 0.005 * (xmax - xmin)  # 0.1 s of a 50 min run would be 0.003 % wide


def test_unknown_embodied_carbon_is_not_a_zero_share(tmp_path):
    _, fp = tracked_run(tmp_path, "r")
    doc = fp.to_dict()
    doc["carbon"]["embodied_kg"] = None
    carbon = next(row for row in plot.breakdown(doc) if row[0] == "carbon")
    assert [name for name, _ in carbon[2]] == ["operational"]
    plot.figure_png([doc])  # drawn with "embodied not known", no crash


def test_the_extension_chooses_the_format_and_jpg_is_refused(tmp_path, capsys):
    _, fp = tracked_run(tmp_path / "runs", "r")
    svg = plot.save_png([fp], str(tmp_path / "p.svg"))
    assert open(svg, encoding="utf-8").read().lstrip().startswith("<?xml")
    assert open(plot.save_png([fp], str(tmp_path / "p.png")), "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.pdf"):
        plot.save_png([fp], str(tmp_path / "p.jpg"))
    assert not (tmp_path / "p.jpg").exists()
    rc = cli.main(["report", str(tmp_path / "runs"), "--plot", str(tmp_path / "out.jpg")])
    err = capsys.readouterr().err
    assert rc == 2 and "--plot" in err and ".png" in err and not (tmp_path / "out.jpg").exists()


def test_names_with_dollars_are_drawn_as_written(tmp_path):
    t, fp = tracked_run(tmp_path, "r")
    doc = fp.to_dict()
    doc["project"] = "cost $5 vs $6"
    doc["windows"] = [{"name": r"$\foo$", "start_s": 1.0, "duration_s": 2.0}]
    doc["components"][0]["id"] = r"gpu:$\bar$"
    assert plot._plain("cost $5 vs $6") == r"cost \$5 vs \$6"
    assert plot.figure_png([doc])[:4] == b"\x89PNG"


def test_a_non_numeric_timeline_is_drawn_as_none(tmp_path):
    _, fp = tracked_run(tmp_path, "r")
    doc = fp.to_dict()
    doc["timeline"] = {"t_s": ["a", "b", "c"], "energy_j": {"gpu:0": ["x", None, {}]}}
    assert plot.figure_png([doc])[:4] == b"\x89PNG"
    assert math.isfinite(plot.breakdown(doc)[0][1])


def test_names_with_lone_surrogates_or_controls_are_drawn_escaped(tmp_path):
    """A project named from undecodable bytes (``WATTPRINT_PROJECT``) used to fail the whole plot and
    ``report --html`` inside FreeType; the names are drawn with escapes instead."""
    t, fp = tracked_run(tmp_path, "r")
    doc = fp.to_dict()
    doc["project"] = "bad\udcffname\x1b[2J"
    doc["windows"] = [{"name": "w\udcfe", "start_s": 1.0, "duration_s": 2.0}]
    assert plot._plain("bad\udcffname\x1b") == "bad\\udcffname\\x1b"
    assert plot.figure_png([doc])[:4] == b"\x89PNG"
