"""Reports that stream (issue 20): each footprint read once, only what the tables need kept."""

import json
import math
import os

import pytest

from wattprint import ReplaySensor, Tracker
from wattprint.cli.app import main
from wattprint.report.load import FileTimeline, journal_timeline, load_footprint, load_footprints
from wattprint.report.render import render
from wattprint.report.summary import SummaryFootprint, summarize
from wattprint.testing import ManualClock, StepEvent


def _runs(folder, n=4):
    for k in range(n):
        clock = ManualClock()
        sensors = [ReplaySensor([(0, 100.0 + 10 * k)], component_id="gpu:0", kind="gpu"),
                   ReplaySensor([(0, 30.0)], component_id="cpu:package-0", kind="cpu")]
        t = Tracker(run_id=f"r{k}", output_dir=str(folder), sensors=sensors, clock=clock, interval_s=math.inf,
                    handle_signals=False, region="IE")
        t.start()
        for _ in range(50):
            clock.advance(1.0)
            t.sample_now()
            t._on_tick(clock.monotonic())
        with t.window("eval"):
            clock.advance(2.0)
        t.step(100, tokens=1000 * (k + 1))
        t.stop("partial" if k == 2 else None)


@pytest.fixture
def folder(tmp_path):
    _runs(tmp_path)
    return tmp_path


@pytest.mark.parametrize("fmt", ["table", "md", "csv"])
def test_summary_mode_renders_exactly_what_whole_documents_render(folder, fmt):
    whole = load_footprints([str(folder)])
    lean = load_footprints([str(folder)], keep="summary")
    assert all(isinstance(fp, SummaryFootprint) for fp in lean.footprints)
    assert render(lean.footprints, fmt, details=False) == render(whole.footprints, fmt, details=False)
    assert [summarize(a) for a in lean.footprints] == [summarize(b) for b in whole.footprints]


def test_a_summary_footprint_keeps_no_components_windows_or_timeline(folder):
    fp = load_footprints([str(folder)], keep="summary").footprints[0]
    doc = fp.to_dict()
    assert "components" not in doc and "windows" not in doc and fp.timeline == {}
    assert doc["run_id"] == "r0"


def test_timelines_from_a_folder_are_read_again_only_when_used(folder):
    fp = load_footprints([str(folder)]).footprints[0]
    assert isinstance(fp._timeline, FileTimeline) and fp._timeline._dict is None  # nothing parsed kept
    whole = load_footprint(str(folder / "r0.json"))
    assert fp.timeline == whole.timeline and len(fp.timeline["t_s"]) == 52


def test_a_file_not_laid_out_as_we_write_it_is_parsed_whole(folder):
    doc = json.loads((folder / "r1.json").read_text())
    (folder / "r1.json").write_text(json.dumps(doc))  # one line, no indent
    fp = load_footprints([str(folder)]).footprints[1]
    assert fp.run_id == "r1" and len(fp.timeline["t_s"]) == 52


def test_cli_summary_over_a_folder_and_over_one_run(folder, capsys):
    assert main(["report", str(folder), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "Comparison of 4 runs" in out
    one = folder / "one"
    one.mkdir()
    os.replace(folder / "r3.json", one / "r3.json")
    assert main(["report", str(one), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "r3" in out  # one run: read whole (its own tables may be shown)
    fp = load_footprints([str(one)]).footprints[0]
    assert fp.to_dict()["components"]


def test_a_killed_runs_checkpoint_takes_its_timeline_from_the_journal(tmp_path):
    clock = ManualClock()
    t = Tracker(run_id="k", output_dir=str(tmp_path), sensors=[ReplaySensor([(0, 100.0)], component_id="gpu:0", kind="gpu")],
                clock=clock, interval_s=1.0, checkpoint_interval_s=5.0, handle_signals=False, event=StepEvent(clock, ticks=0))
    t.start()
    for _ in range(30):
        clock.advance(1.0)
        t._sampler.tick()
    doc = json.loads((tmp_path / "k.json").read_text())
    assert doc["status"] == "partial" and "timeline" not in doc  # the checkpoint: the document alone
    journal = tmp_path / "k.timeline.jsonl"
    lines = journal.read_text().splitlines()
    assert json.loads(lines[0])["journal"] == "wattprint.timeline/1" and len(lines) >= 26
    with open(journal, "a") as fh:
        fh.write('[31.0, 0, [31')  # a torn last line (killed mid-write)
    fp = load_footprint(str(tmp_path / "k.json"))
    tl = fp.timeline
    assert tl["t_s"][0] == 0.0 and tl["t_s"][-1] >= 25.0
    assert tl["energy_j"]["gpu:0"][-1] == pytest.approx(100.0 * tl["t_s"][-1])
    assert all(p is None or p == pytest.approx(100.0) for p in tl["power_w"]["gpu:0"])
    assert journal_timeline(str(tmp_path / "missing.jsonl")) == {}
    t.stop()
    assert not journal.exists()  # compacted: the final JSON holds the whole timeline
    assert len(json.loads((tmp_path / "k.json").read_text())["timeline"]["t_s"]) == 32


def test_a_checkpoint_cut_between_its_two_writes_leaves_no_journal_point_past_the_document(tmp_path, monkeypatch):
    """A kill can land between a checkpoint's document and its journal append (CI once saw a journal 0.2 s
    ahead of the document). The document goes first, so the journal never runs past its ``duration_s``."""
    from wattprint.run import outputs

    clock = ManualClock()
    t = Tracker(run_id="cut", output_dir=str(tmp_path), sensors=[ReplaySensor([(0, 100.0)], component_id="gpu:0", kind="gpu")],
                clock=clock, interval_s=1.0, checkpoint_interval_s=5.0, handle_signals=False, event=StepEvent(clock, ticks=0))
    t.start()
    for _ in range(10):  # two whole checkpoints (5 s, 10 s)
        clock.advance(1.0)
        t._sampler.tick()
    real_write = outputs.write_json

    def killed(path, footprint, timeline=True, sync=True):  # the process dies at this write: nothing after it happens
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(outputs, "write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        for _ in range(5):  # the third checkpoint (15 s) is cut
            clock.advance(1.0)
            t._sampler.tick()
    monkeypatch.setattr(outputs, "write_json", real_write)
    doc = json.loads((tmp_path / "cut.json").read_text())
    tl = load_footprint(str(tmp_path / "cut.json")).timeline
    assert doc["duration_s"] == pytest.approx(10.0) and tl["t_s"][-1] == pytest.approx(10.0)
    assert tl["t_s"][-1] <= doc["duration_s"]
    t._files.save = False  # the "killed" run writes nothing more
    t.stop()
