"""Checkpoints that cost little (issue 20): an fsync every tenth checkpoint, not every one; the
journal's lines encoded in one pass; the document serialised without a deep copy."""

import json
import os

import pytest

from wattprint import ReplaySensor, Tracker, _io
from wattprint.report.load import journal_timeline, load_footprint
from wattprint.run import outputs
from wattprint.testing import ManualClock, StepEvent


def _tracker(tmp_path, run_id="c"):
    clock = ManualClock()
    t = Tracker(run_id=run_id, output_dir=str(tmp_path), sensors=[ReplaySensor([(0, 100.0)], component_id="gpu:0", kind="gpu")],
                clock=clock, interval_s=1.0, checkpoint_interval_s=5.0, handle_signals=False, event=StepEvent(clock, ticks=0))
    t.start()
    return t, clock


def test_every_tenth_checkpoint_is_fsynced_and_the_final_footprint_always(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def counting_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else fd)
        real_fsync(fd)

    monkeypatch.setattr(_io.os, "fsync", counting_fsync)
    t, clock = _tracker(tmp_path)
    written = []
    real_write = outputs.write_json

    def recording(path, footprint, *, timeline=True, sync=True):
        written.append((timeline, sync))
        real_write(path, footprint, timeline=timeline, sync=sync)

    monkeypatch.setattr(outputs, "write_json", recording)
    for _ in range(25 * 5):  # 25 checkpoints, 5 s apart
        clock.advance(1.0)
        t._sampler.tick()
    checkpoints = [sync for timeline, sync in written if not timeline]
    assert len(checkpoints) == 25
    assert [i for i, s in enumerate(checkpoints) if s] == [0, 10, 20]  # the first, then every tenth
    before_stop = len(synced)
    assert before_stop >= 3  # each synced checkpoint's document (and a journal rewrite, when one falls there)
    # every checkpoint, synced or not, is on disk and readable right away: a kill loses nothing
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["status"] == "partial" and doc["duration_s"] == pytest.approx(125.0)
    tl = journal_timeline(str(tmp_path / "c.timeline.jsonl"))
    assert tl["t_s"][-1] == pytest.approx(125.0)
    t.stop()
    assert written[-1] == (True, True)  # the final footprint, with its timeline, fsynced
    after = [os.path.basename(str(p)) for p in synced[before_stop:]]
    assert len(after) == 2 and after[0].endswith(".tmp") and after[1] == "runs.csv"  # the final JSON, then its CSV row
    fp = load_footprint(str(tmp_path / "c.json"))
    assert fp.status == "completed" and fp.energy_j == pytest.approx(100.0 * 125.0)


def test_unsynced_atomic_write_still_replaces_whole_and_leaves_no_temp(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(_io.os, "fsync", lambda fd: calls.append(fd))
    target = tmp_path / "d.json"
    target.write_text("old")
    _io.atomic_write_bytes(str(target), b'{"new": 1}\n', sync=False)
    assert target.read_bytes() == b'{"new": 1}\n' and calls == []
    _io.atomic_write_bytes(str(target), b'{"new": 2}\n')
    assert target.read_bytes() == b'{"new": 2}\n' and len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json"]


def test_atomic_write_remakes_a_folder_removed_after_the_first_write(tmp_path):
    folder = tmp_path / "out"
    _io.atomic_write_bytes(str(folder / "a.json"), b"1")
    (folder / "a.json").unlink()
    folder.rmdir()
    _io.atomic_write_bytes(str(folder / "a.json"), b"2")
    assert (folder / "a.json").read_bytes() == b"2"


@pytest.mark.parametrize("points", [
    [],
    [(0.0, 0, [])],
    [(1.0, 3, [5.0, 6.5]), (2.0, 4, (7.0, 8.25)), (3.5, 0, [])],
    [(float(i), i, [i * 0.1, 1e300, -0.0]) for i in range(50)],
])
def test_journal_lines_in_one_pass_are_the_per_point_lines(points):
    per_point = "".join(json.dumps([t, s, list(e)], allow_nan=False, separators=(",", ":")) + "\n" for t, s, e in points)
    assert outputs._journal_lines(points) == per_point


def test_journal_lines_refuse_nan_like_before():
    with pytest.raises(ValueError):
        outputs._journal_lines([(0.0, 0, [float("nan")])])


def test_serialising_does_not_copy_yet_never_changes_the_document(tmp_path):
    t, clock = _tracker(tmp_path, "s")
    for _ in range(6):
        clock.advance(1.0)
        t._sampler.tick()
    fp = t.snapshot()
    before = fp.to_dict()
    text = fp.to_json(timeline=True, indent=None)
    assert json.loads(text)["timeline"]["t_s"][-1] == pytest.approx(6.0)
    assert fp.to_dict() == before and "timeline" not in before
    t.stop()


def test_a_link_planted_at_the_checkpoint_names_is_resolved_and_refused_when_it_leads_out(tmp_path):
    """Only a link is resolved before a checkpoint (a plain name is inside by construction); one leading
    out of the folder is refused, so the file it points to is never touched."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere.json"
    out.mkdir()
    elsewhere.write_text("keep\n")
    t, clock = _tracker(out, "l")
    os.symlink(elsewhere, out / "l.timeline.jsonl")
    for _ in range(5):
        clock.advance(1.0)
        t._sampler.tick()
    assert elsewhere.read_text() == "keep\n" and not (out / "l.json").exists()
    (out / "l.timeline.jsonl").unlink()
    os.symlink(out / "inside.jsonl", out / "l.timeline.jsonl")  # a link that stays in the folder passes the check
    for _ in range(5):
        clock.advance(1.0)
        t._sampler.tick()
    assert json.loads((out / "l.json").read_text())["status"] == "partial"
    t.stop()
    assert elsewhere.read_text() == "keep\n"
