"""A hung sensor read delays window edges, stop() and the signal path by at most its deadline (issue 17).

The sensor blocks on an event (a hung driver); every wait here is bounded and the
hang is released at teardown. Timing bounds are loose (the deadline is 0.2 s, the
hang 30 s): they tell "waited for the deadline" from "waited for the hang".
"""

import math
import threading
import time

import pytest

from wattprint import Tracker
from wattprint.engine.ledger import DEFAULT_READ_DEADLINE_S, Ledger, read_deadline_s
from wattprint.engine.sensors.base import Component, Sensor
from wattprint.testing import ManualClock

DEADLINE_S = 0.2
HANG_S = 30.0
SLACK_S = 2.5  # generous: a shared 2-core machine


class HangingSensor(Sensor):
    """100 W on ``gpu:0``; once ``hang`` is set, each read blocks until ``release`` (at most HANG_S)."""

    name = "hanging"
    read_deadline_s = DEADLINE_S

    def __init__(self):
        super().__init__()
        self.hang, self.release, self.entered = threading.Event(), threading.Event(), threading.Event()

    def components(self):
        return [Component("gpu:0", "gpu", "Hung GPU", "test", True, scope="device")]

    def read(self, now_s):
        if self.hang.is_set():
            self.entered.set()
            self.release.wait(HANG_S)
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


def _tracker(tmp_path, sensor, **kw):
    return Tracker(run_id="hung", output_dir=str(tmp_path), sensors=[sensor, SteadySensor()], interval_s=math.inf,
                   handle_signals=False, clock=ManualClock(), **kw).start()


def _hang_in_background(t, sensor):
    """The sampler's read (here: a sample_now() on a helper thread) meets the hang first."""
    sensor.hang.set()
    th = threading.Thread(target=t.sample_now, daemon=True)
    th.start()
    assert sensor.entered.wait(10)
    return th


def test_deadline_attribute_and_default():
    assert read_deadline_s(HangingSensor()) == DEADLINE_S
    assert read_deadline_s(SteadySensor()) == DEFAULT_READ_DEADLINE_S <= 1.0


def test_window_edges_wait_at_most_the_deadline_and_record_a_gap(tmp_path, hung):
    t = _tracker(tmp_path, hung)
    _hang_in_background(t, hung)
    began = time.monotonic()
    with t.window("eval") as w:
        pass
    edges_s = time.monotonic() - began
    assert edges_s < DEADLINE_S + SLACK_S  # not the 30 s hang
    assert "cpu:package-0" in w["components"]  # the other sensor was read
    began = time.monotonic()
    with t.window("again"):
        pass
    assert time.monotonic() - began < SLACK_S  # past its deadline: skipped at once
    fp = t.stop()
    assert fp["status"] == "partial"
    reasons = [g["reason"] for g in fp["gaps"] if g["component"] == "gpu:0"]
    assert reasons and "timed out" in reasons[0]


def test_stop_is_bounded_when_the_sampler_thread_hangs(tmp_path, hung):
    t = Tracker(run_id="hung2", output_dir=str(tmp_path), sensors=[hung, SteadySensor()], interval_s=0.05, handle_signals=False)
    t.start()
    hung.hang.set()
    assert hung.entered.wait(10)  # the sampler thread is now stuck in the read
    began = time.monotonic()
    fp = t.stop()
    assert time.monotonic() - began < DEADLINE_S + SLACK_S
    assert fp["status"] == "partial"
    assert any("timed out" in g["reason"] for g in fp["gaps"])
    assert (tmp_path / "hung2.json").exists()


def test_a_hang_that_starts_inside_stop_is_bounded_too(tmp_path, hung):
    t = _tracker(tmp_path, hung)
    hung.hang.set()  # nobody has met it yet: stop()'s own read is the first
    began = time.monotonic()
    fp = t.stop(reason="SIGTERM")  # what the signal handler calls
    assert time.monotonic() - began < DEADLINE_S + SLACK_S
    assert fp["status"] == "partial" and any("timed out" in g["reason"] for g in fp["gaps"])


def test_a_slow_read_within_its_deadline_is_waited_for_and_no_gap():
    s = HangingSensor()
    ledger = Ledger([s])
    ledger.start(1.0)
    s.hang.set()
    th = threading.Thread(target=ledger.read, args=(2.0,), daemon=True)
    th.start()
    assert s.entered.wait(10)
    s.hang.clear()
    threading.Timer(0.05, s.release.set).start()  # slow, not hung: returns well within 0.2 s
    ledger.read(3.0)
    th.join(10)
    assert ledger.all_gaps(3.0) == []
    assert ledger.energy_j["gpu:0"] == pytest.approx(300.0)
