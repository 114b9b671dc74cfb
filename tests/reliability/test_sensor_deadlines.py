"""A hung sensor read delays window edges, stop() and the signal path by at most its deadline (issue 17).

The sensor blocks on an event (a hung driver) that only the test's teardown sets; each
read counts when it returns. "Delays by at most the deadline" is asserted on the ledger's
behaviour, not on wall time: the call came back while the hung read had not returned,
and the gap is recorded with its reason. Every wait here is bounded (HANG_S is only a
safety net: a wrong implementation fails after it instead of hanging the suite).
"""

import math
import threading

import pytest

from wattprint import Tracker
from wattprint.engine.ledger import DEFAULT_READ_DEADLINE_S, Ledger, read_deadline_s
from wattprint.engine.sensors.base import Component, Sensor
from wattprint.testing import ManualClock

DEADLINE_S = 0.2
HANG_S = 60.0


class HangingSensor(Sensor):
    """100 W on ``gpu:0``; once ``hang`` is set, each read blocks until ``release`` (at most HANG_S)."""

    name = "hanging"

    def __init__(self, deadline_s=DEADLINE_S):
        super().__init__()
        self.read_deadline_s = deadline_s
        self.hang, self.release, self.entered = threading.Event(), threading.Event(), threading.Event()
        self.hung_reads_returned = 0

    def components(self):
        return [Component("gpu:0", "gpu", "Hung GPU", "test", True, scope="device")]

    def read(self, now_s):
        if self.hang.is_set():
            self.entered.set()
            self.release.wait(HANG_S)
            self.hung_reads_returned += 1
        return {"gpu:0": 100.0 * now_s}


class SteadySensor(Sensor):
    name = "steady"

    def components(self):
        return [Component("cpu:package-0", "cpu", "CPU", "test", True)]

    def read(self, now_s):
        return {"cpu:package-0": 10.0 * now_s}


@pytest.fixture
def hung():
    s = HangingSensor()
    yield s
    s.release.set()


def _tracker(tmp_path, sensor, clock=None, **kw):
    return Tracker(run_id="hung", output_dir=str(tmp_path), sensors=[sensor, SteadySensor()], interval_s=math.inf,
                   handle_signals=False, clock=clock, **kw).start()


def _hang_in_background(t, sensor):
    """The sampler's read (here: a sample_now() on a helper thread) meets the hang first."""
    sensor.hang.set()
    th = threading.Thread(target=t.sample_now, daemon=True)
    th.start()
    assert sensor.entered.wait(10)
    return th


def _timed_out(fp):
    return [g["reason"] for g in fp["gaps"] if g["component"] == "gpu:0" and "timed out" in g["reason"]]


def test_deadline_attribute_and_default():
    assert read_deadline_s(HangingSensor()) == DEADLINE_S
    assert read_deadline_s(SteadySensor()) == DEFAULT_READ_DEADLINE_S <= 1.0
    # a replayed trace never blocks: only a descheduled thread makes it late, and that is no hung sensor
    # (the whole suite's replayed runs stay 'completed' on a machine loaded enough to stall a thread for 1 s)
    from wattprint.testing import replay_sensor

    assert read_deadline_s(replay_sensor(100.0)) == 60.0


@pytest.mark.parametrize("clock", [None, ManualClock()], ids=["edge-reader", "injected-clock"])
def test_window_edges_wait_at_most_the_deadline_and_record_a_gap(tmp_path, hung, clock):
    t = _tracker(tmp_path, hung, clock)
    _hang_in_background(t, hung)
    with t.window("eval") as w:
        pass
    assert "cpu:package-0" in w["components"]  # the other sensor was read
    with t.window("again") as w2:
        pass
    assert w2["components"]["cpu:package-0"] >= 0.0
    assert hung.hung_reads_returned == 0  # nobody waited for the hang itself
    fp = t.stop()
    assert hung.hung_reads_returned == 0
    assert fp["status"] == "partial" and _timed_out(fp)


def test_stop_is_bounded_when_the_sampler_thread_hangs(tmp_path, hung):
    t = Tracker(run_id="hung2", output_dir=str(tmp_path), sensors=[hung, SteadySensor()], interval_s=0.05, handle_signals=False)
    t.start()
    hung.hang.set()
    assert hung.entered.wait(10)  # the sampler thread is now stuck in the read
    fp = t.stop()
    assert hung.hung_reads_returned == 0  # stop() came back while the read still hangs
    assert fp["status"] == "partial" and any("timed out" in g["reason"] for g in fp["gaps"])
    assert (tmp_path / "hung2.json").exists()


def test_a_hang_that_starts_inside_stop_is_bounded_too(tmp_path, hung):
    t = _tracker(tmp_path, hung, ManualClock())
    hung.hang.set()  # nobody has met it yet: stop()'s own read is the first
    fp = t.stop(reason="SIGTERM")  # what the signal handler calls
    assert hung.entered.is_set() and hung.hung_reads_returned == 0
    assert fp["status"] == "partial" and _timed_out(fp)


def test_a_hang_that_starts_inside_a_window_edge_is_bounded(tmp_path, hung):
    """The edge's own read is the first to meet the hang: the edge returns at once; the figures,
    when asked for, wait at most the deadline, and the gap says why."""
    t = _tracker(tmp_path, hung)  # the system clock: edges are read by the edge reader
    hung.hang.set()
    with t.window("eval") as w:
        assert hung.hung_reads_returned == 0  # the begin edge came back without its reading
    assert hung.entered.wait(10) and hung.hung_reads_returned == 0  # the end edge too
    assert set(w["components"]) == {"gpu:0", "cpu:package-0"}  # bounded: filled while the read still hangs
    assert hung.hung_reads_returned == 0
    fp = t.stop()
    assert hung.hung_reads_returned == 0 and not hung.release.is_set()
    assert fp["status"] == "partial" and _timed_out(fp)
    assert [x["name"] for x in fp.to_dict()["windows"]] == ["eval"]


def test_a_slow_read_within_its_deadline_is_waited_for_and_no_gap():
    s = HangingSensor(deadline_s=HANG_S)  # slow, not hung: returns well within its deadline
    ledger = Ledger([s])
    ledger.start(1.0)
    s.hang.set()
    th = threading.Thread(target=ledger.read, args=(2.0,), daemon=True)
    th.start()
    assert s.entered.wait(10)
    s.hang.clear()
    threading.Timer(0.05, s.release.set).start()
    ledger.read(3.0)  # waits for the other thread's read, then reads
    th.join(10)
    assert s.hung_reads_returned == 1
    assert ledger.all_gaps(3.0) == []
    assert ledger.energy_j["gpu:0"] == pytest.approx(300.0)
