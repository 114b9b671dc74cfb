"""Window edges read by the edge reader (issues 17, 20): the caller queues each edge's reading and
goes on; an edge's time is its reading's own time, and a window's span and energy both come from
its two edge readings, so windows and the run's uncovered spans add up to the run's energy.

These run on the system clock (the edge reader is used there), with sensors whose values are
exact functions of the time they are read at, so every assertion holds whatever the scheduling.
"""

from __future__ import annotations

import copy
import json
import math
import pickle
import threading
import time

import pytest

from wattprint import Tracker
from wattprint.engine.edges import EdgeReader
from wattprint.engine.ledger import Ledger
from wattprint.engine.sensors.base import Component, Sensor
from wattprint.testing import ManualClock

T0 = time.monotonic()


def energy_at(t_s: float) -> float:
    """A non-linear cumulative energy: power grows with time (J)."""
    x = t_s - T0
    return 100.0 * x + 40.0 * x * x


class LoggingSensor(Sensor):
    """``gpu:0`` reads ``energy_at(now_s)``; each ``now_s`` it was read at is logged."""

    name = "logging"
    read_deadline_s = 30.0  # never forced here, however late the reader runs on a loaded machine

    def __init__(self):
        super().__init__()
        self.times = []

    def components(self):
        return [Component("gpu:0", "gpu", "GPU", "test", True, scope="device")]

    def read(self, now_s):
        self.times.append(now_s)
        return {"gpu:0": energy_at(now_s)}


def _run(n_windows: int):
    s = LoggingSensor()
    t = Tracker(sensors=[s], interval_s=math.inf, save=False, handle_signals=False).start()
    t0 = t._ledger.t0_s
    records = []
    for i in range(n_windows):
        with t.window("outer" if i % 2 else "step") as w:
            if i % 5 == 0:
                with t.window("inner") as inner:
                    sum(range(200))
                records.append(inner)
            sum(range(200))
        records.append(w)
        if i % 7 == 0:
            time.sleep(0)  # let the reader in between, now and then
    fp = t.stop().to_dict()
    return s, t0, records, fp


def test_a_window_is_its_two_edge_readings():
    s, t0, records, fp = _run(300)
    read_at = set(s.times)
    for w in records:
        begin, end = t0 + w["start_s"], t0 + w["start_s"] + w["duration_s"]
        assert begin in read_at and end in read_at  # the edges' times are readings' own times
        assert w["duration_s"] >= 0.0
        assert w["energy_j"] == pytest.approx(energy_at(end) - energy_at(begin), rel=1e-9, abs=1e-9)
        assert w["components"]["gpu:0"] == pytest.approx(w["energy_j"])


def test_windows_and_the_uncovered_spans_add_up_to_the_runs_energy():
    s, t0, records, fp = _run(300)
    top = sorted((w for w in records if w["depth"] == 0), key=lambda w: w["start_s"])
    assert len(top) == 300
    covered, uncovered, cursor = 0.0, 0.0, 0.0
    for w in top:
        assert w["start_s"] >= cursor - 1e-12  # top-level windows do not overlap
        uncovered += energy_at(t0 + w["start_s"]) - energy_at(t0 + cursor)
        covered += w["energy_j"]
        cursor = w["start_s"] + w["duration_s"]
    uncovered += energy_at(t0 + fp["duration_s"]) - energy_at(t0 + cursor)
    assert cursor <= fp["duration_s"]
    run_j = energy_at(t0 + fp["duration_s"]) - energy_at(t0)
    assert covered + uncovered == pytest.approx(run_j, rel=1e-9)
    totals = {x["name"]: x for x in fp["window_totals"]}
    assert totals["step"]["count"] + totals["outer"]["count"] == 300 and totals["inner"]["count"] == 60
    assert totals["step"]["energy_j"] + totals["outer"]["energy_j"] == pytest.approx(covered, rel=1e-9)


def test_the_record_reads_like_the_plain_dict_it_was():
    t = Tracker(sensors=[LoggingSensor()], interval_s=math.inf, save=False, handle_signals=False).start()
    with t.window("eval") as w:
        assert w["name"] == "eval" and w["depth"] == 0 and w["start_s"] >= 0.0
        with pytest.raises(KeyError):
            w["energy_j"]  # not before the window ends, as before
        t.step(3)
    plain = {"name": "eval", "start_s": w["start_s"], "depth": 0, "duration_s": w["duration_s"],
             "energy_j": w["energy_j"], "components": w["components"], "steps": 3}  # fmt: skip
    assert isinstance(w, dict) and w == plain and dict(w) == plain and list(w) == list(plain)
    assert json.loads(json.dumps(w)) == plain and pickle.loads(pickle.dumps(w)) == plain and copy.deepcopy(w) == plain
    assert type(pickle.loads(pickle.dumps(w))) is dict
    assert (w | {}) == plain and {**w} == plain and w.get("steps") == 3 and "energy_j" in w
    for copy_of in (lambda r: {**r}, lambda r: r | {}, dict, lambda r: json.loads(json.dumps(r)), copy.copy):
        with t.window("fresh") as fresh:
            pass
        assert "energy_j" in copy_of(fresh)  # each way of copying a record not read yet fills it first
    t.stop()


def test_a_window_open_at_stop_ends_at_the_stop_reading():
    s = LoggingSensor()
    t = Tracker(sensors=[s], interval_s=math.inf, save=False, handle_signals=False).start()
    with t.window("eval") as w:
        fp = t.stop().to_dict()
    (kept,) = fp["windows"]
    assert kept["open_at_stop"] is True and w["open_at_stop"] is True
    assert kept["start_s"] + kept["duration_s"] <= fp["duration_s"] + 1e-12
    assert w["energy_j"] == pytest.approx(kept["energy_j"])


def test_the_attribution_hook_sees_edge_readings_on_the_reader_thread():
    t = Tracker(sensors=[LoggingSensor()], interval_s=math.inf, save=False, handle_signals=False).start()
    seen = []
    t._ledger.observer = lambda now_s, values: seen.append((threading.current_thread().name, now_s, dict(values)))
    with t.window("w") as w:
        pass
    w["energy_j"]  # both edge readings are in
    t0 = t._ledger.t0_s
    times = {now_s for _, now_s, _ in seen}
    assert t0 + w["start_s"] in times and t0 + w["start_s"] + w["duration_s"] in times
    assert {name for name, _, _ in seen} == {"wattprint-edges"} and all(set(v) == {"gpu:0"} for _, _, v in seen)
    t.stop()


class BlockingSensor(Sensor):
    name = "blocking"
    read_deadline_s = 0.05

    def __init__(self):
        super().__init__()
        self.block, self.release, self.entered = threading.Event(), threading.Event(), threading.Event()

    def components(self):
        return [Component("gpu:0", "gpu", "GPU", "test", True, scope="device")]

    def read(self, now_s):
        if self.block.is_set():
            self.entered.set()
            self.release.wait(60.0)
        return {"gpu:0": 7.0 * now_s}


class Steady(Sensor):
    name = "steady"
    read_deadline_s = 30.0  # the waits below end by the stuck reader's retirement, not by this

    def components(self):
        return [Component("cpu:package-0", "cpu", "CPU", "test", True)]

    def read(self, now_s):
        return {"cpu:package-0": 3.0 * now_s}


def test_the_edge_reader_stamps_edges_with_its_reading_and_retires_a_stuck_reader():
    hung, steady, clock = BlockingSensor(), Steady(), ManualClock(start_s=10.0)
    ledger = Ledger([hung, steady])
    ledger.start(clock.monotonic())
    reader = EdgeReader(ledger, clock)
    try:
        e = reader.edge()
        reader.wait([e])
        assert e.done and e.t_s == 10.0 and e.energy_j == {"gpu:0": 70.0, "cpu:package-0": 30.0}
        clock.advance(5.0)
        hung.block.set()
        e2 = reader.edge()
        assert hung.entered.wait(10)
        reader.wait([e2])  # at most the deadline: the stuck reader is retired or the edge stamped
        assert e2.done and e2.t_s == 15.0
        assert e2.energy_j["cpu:package-0"] == 45.0 and e2.energy_j["gpu:0"] == 70.0  # the hung GPU: its last value
        (gap,) = [g for g in ledger.all_gaps(15.0) if g.component_id == "gpu:0"]
        assert "timed out" in gap.reason
        e3 = reader.edge()  # the hung sensor is skipped at once now; the other is read
        reader.wait([e3])
        assert e3.done and e3.energy_j["cpu:package-0"] == 45.0
        assert not hung.release.is_set()
    finally:
        hung.release.set()
        reader.close()
