"""Run-layer defects of issue 11, each with the test that failed before the fix."""

import csv
import json
import logging
import math
import os
import signal
import threading

import pytest

from wattprint import CSV_FIELDS, ReplaySensor, Tracker
from wattprint.engine.ledger import MAX_GAPS_PER_COMPONENT
from wattprint.engine.sensors.base import Component, Sensor
from wattprint.engine.timeline import Timeline
from wattprint.exporters import CsvExporter
from wattprint.footprint.build import MAX_RAW_WINDOWS
from wattprint.testing import ManualClock

INF = math.inf


def replay(watts=100.0, cid="gpu:0"):
    return ReplaySensor([(0.0, watts)], component_id=cid, kind="gpu")


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


# (a) one runs.csv writer, header-aware ------------------------------------------------------
def test_tracker_keeps_an_older_shorter_runs_csv_header(tmp_path):
    old = list(CSV_FIELDS[:10])
    path = tmp_path / "runs.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow(old)
        csv.writer(fh, lineterminator="\n").writerow(["x"] * len(old))
    clock = ManualClock()
    t = Tracker(run_id="new-1", output_dir=str(tmp_path), sensors=[replay()], clock=clock, interval_s=INF, handle_signals=False)
    with t:
        clock.advance(2)
    fp = t.footprint
    CsvExporter(str(path)).export(fp)  # the exporter and the tracker write the same way
    rows = _rows(path)
    assert rows[0] == old and len(rows) == 4
    assert {len(r) for r in rows} == {len(old)}  # rectangular: 36 cells under 10 names before the fix
    assert rows[2][old.index("run_id")] == "new-1"


# (b) the ledger owns the timeline: view() is atomic against the sampler's append ----------
class _SlowTimeline(Timeline):
    """Appends in two halves, pausing in between while a reader gets the chance to look."""

    armed = False

    def append(self, t_s, steps, energies_j):
        if not self.armed:
            return super().append(t_s, steps, energies_j)
        self._t.append(t_s)
        self._steps.append(steps)
        self.mid.set()
        self.reader_done.wait(0.5)  # with the fix the reader is blocked on the ledger lock until we finish
        self._e.append(tuple(energies_j))


def test_snapshot_during_a_sampler_append_sees_whole_points():
    clock = ManualClock()
    t = Tracker(sensors=[replay()], clock=clock, interval_s=INF, save=False, handle_signals=False).start()
    ledger = t._ledger
    slow = _SlowTimeline(ledger.ids, 64)
    for k in range(len(ledger.timeline)):
        slow.append(ledger.timeline._t[k], ledger.timeline._steps[k], ledger.timeline._e[k])
    slow.mid, slow.reader_done, slow.armed = threading.Event(), threading.Event(), True
    ledger.timeline = slow
    clock.advance(2)
    seen = {}

    def reader():
        slow.mid.wait(60)  # a cap: the sampler's append is already under way
        tl = t.snapshot().timeline
        seen["lengths"] = (len(tl["t_s"]), len(tl["energy_j"]["gpu:0"]), len(tl["steps"]))
        slow.reader_done.set()

    th = threading.Thread(target=reader)
    th.start()
    t.sample_now()  # the sampler's append, on this thread
    th.join(60)
    slow.armed = False
    t.stop()
    assert seen["lengths"] == (2, 2, 2)


# (c) windows and gaps stay bounded ----------------------------------------------------------
def _windows_doc(n):
    clock = ManualClock()
    t = Tracker(sensors=[replay()], clock=clock, interval_s=INF, save=False, handle_signals=False).start()
    for i in range(n):
        with t.window("eval" if i % 10 == 0 else "step"):
            clock.advance(0.5)
            t.step()
    return t.stop().to_dict()


def test_windows_are_aggregated_by_name_and_the_last_raw_ones_kept():
    d = _windows_doc(1000)
    assert len(d["windows"]) == MAX_RAW_WINDOWS and d["windows"][-1]["start_s"] == pytest.approx(999 * 0.5)
    totals = {w["name"]: w for w in d["window_totals"]}
    assert totals["eval"]["count"] == 100 and totals["step"]["count"] == 900
    assert totals["step"]["energy_j"] == pytest.approx(900 * 50.0) and totals["step"]["duration_s"] == pytest.approx(450.0)
    assert totals["step"]["steps"] == 900 and totals["step"]["components"]["gpu:0"] == pytest.approx(900 * 50.0)
    # the document does not grow with the run
    assert len(json.dumps(_windows_doc(3000)["windows"])) == pytest.approx(len(json.dumps(d["windows"])), rel=0.05)


class _FlappingSensor(Sensor):
    """Answers every other read: a gap opens and closes at each pair of reads."""

    name = "flapping"

    def __init__(self):
        self._c = [Component(id="f", kind="synthetic", name="f", source="test", measured=True)]
        self.reads = 0

    def components(self):
        return self._c

    def read(self, now_s):
        self.reads += 1
        return {"f": 10.0 * now_s} if self.reads % 2 else {}


def test_a_flapping_sensor_leaves_a_bounded_list_of_coalesced_gaps():
    clock = ManualClock()
    t = Tracker(sensors=[_FlappingSensor(), replay()], clock=clock, interval_s=INF, save=False, handle_signals=False).start()
    for _ in range(399):  # reads 2..400 by the samples, 401 by stop(): every even read fails
        clock.advance(1)
        t.sample_now()
    clock.advance(1)
    d = t.stop().to_dict()
    gaps = [g for g in d["gaps"] if g["component"] == "f"]
    assert len(gaps) == MAX_GAPS_PER_COMPONENT
    assert sum(g.get("count", 1) for g in gaps) == 200 and gaps[-1]["count"] == 200 - MAX_GAPS_PER_COMPONENT + 1
    assert sum(g["duration_s"] for g in gaps) == pytest.approx(400.0)  # each gap spans two reads (2 s)
    assert gaps[-1]["end_s"] <= d["duration_s"] and d["status"] == "partial"


# (d) exporter failures are surfaced --------------------------------------------------------
class _Failing:
    def __init__(self):
        self.on_sample_calls = 0

    def on_sample(self, fp):
        self.on_sample_calls += 1
        raise RuntimeError("sample broke")

    def export(self, fp):
        raise OSError("disk full")


def test_exporter_failures_are_noted_exposed_and_logged_once_with_traceback(caplog):
    caplog.set_level(logging.WARNING, logger="wattprint")
    clock = ManualClock()
    failing = _Failing()
    t = Tracker(sensors=[replay()], clock=clock, interval_s=INF, save=False, handle_signals=False, exporters=[failing]).start()
    for _ in range(3):
        clock.advance(1)
        t.sample_now()
    fp = t.stop()
    notes = fp.to_dict()["notes"]
    assert any(n.startswith("exporter _Failing failed in export: OSError: disk full") for n in notes)
    assert any(e.startswith("_Failing export: OSError") for e in t.export_errors)
    failed = [r for r in caplog.records if "_Failing failed in" in r.getMessage()]
    assert sorted(r.getMessage().split(" in ")[1].split(";")[0] for r in failed) == sorted({"export"} | ({"on_sample"} if failing.on_sample_calls else set()))
    assert all(r.exc_info is not None for r in failed)  # logger.exception: the traceback is logged


# (e) fork: the child gets fresh locks ------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_deadlock_on_locks_the_parent_held():
    clock = ManualClock()
    t = Tracker(sensors=[replay()], clock=clock, interval_s=INF, save=False, handle_signals=True).start()
    held, release = threading.Event(), threading.Event()

    def sampler_like():  # holds both locks across the fork, as a sampler mid-read would
        with t._ledger.lock, t._lock:
            held.set()
            release.wait(60)

    th = threading.Thread(target=sampler_like, daemon=True)
    th.start()
    assert held.wait(60)
    pid = os.fork()
    if pid == 0:  # the child: a deadlock is ended by the alarm (exit by SIGALRM, not 0)
        signal.alarm(60)  # a deadlock only; a slow machine is not one
        try:
            t.step()
            ok = t.energy_j == 0.0 and t.snapshot() is None and t.stop() is None
            os._exit(0 if ok else 3)
        except BaseException:
            os._exit(4)
    release.set()
    th.join(60)
    _, status = os.waitpid(pid, 0)
    t.stop()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"


def test_stop_with_a_reason_records_the_interruption():
    clock = ManualClock()
    t = Tracker(sensors=[replay()], clock=clock, interval_s=INF, save=False, handle_signals=False).start()
    clock.advance(1)
    d = t.stop("partial", reason="SIGTERM").to_dict()
    assert d["status"] == "partial" and "interrupted by SIGTERM" in d["notes"]
