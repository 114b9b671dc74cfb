"""The sampler reads each sensor at the rate its declared mode asks for, never inferring it from poll_interval_s."""

import math

import pytest
from wattprint import ReplaySensor, Sensor
from wattprint.engine.ledger import Ledger
from wattprint.engine.sampler import Sampler
from wattprint.engine.sensors.base import Component
from wattprint.testing import ManualClock, StepEvent


class Counting(Sensor):
    def __init__(self, cid, mode, poll_interval_s):
        super().__init__()
        self.cid, self.mode, self.poll_interval_s = cid, mode, poll_interval_s
        self.name = cid
        self.reads = 0

    def components(self):
        return [Component(id=self.cid, kind="synthetic", name=self.cid, source="test", measured=True)]

    def read(self, now_s):
        self.reads += 1
        return {self.cid: 0.0}


def _sampler(*sensors, interval_s=1.0, power_interval_s=0.1, clock=None, event=None):
    return Sampler(Ledger(list(sensors)), interval_s=interval_s, power_interval_s=power_interval_s,
                   clock=clock or ManualClock(), event=event)


def test_a_counter_asking_for_half_a_second_is_read_at_the_counter_interval():
    s = _sampler(Counting("c", "counter", 0.5))
    assert s.tick_s == pytest.approx(1.0)  # was 0.1: "< 1 s" made it a power sensor


def test_a_power_sensor_asking_for_two_seconds_is_still_polled():
    s = _sampler(Counting("p", "power", 2.0))
    assert s.tick_s == pytest.approx(0.1)  # was 1.0: ">= 1 s" made it a counter


def test_a_power_sensor_faster_than_the_setting_keeps_its_own_period():
    s = _sampler(Counting("p", "power", 0.05), Counting("c", "counter", 1.0), power_interval_s=0.1)
    assert s.tick_s == pytest.approx(0.05)


def test_infinite_interval_runs_no_thread_even_with_power_sensors():
    s = _sampler(ReplaySensor([(0, 10.0)], mode="power", poll_interval_s=0.1), interval_s=math.inf)
    s.start()
    assert not s.running
    s.tick(force=True)  # boundaries still read
    assert s.ticks == 1


def test_power_sensor_read_ten_times_per_counter_read():
    clock = ManualClock()
    power, counter = Counting("p", "power", 0.1), Counting("c", "counter", 1.0)
    event = StepEvent(clock, ticks=20)
    s = _sampler(power, counter, clock=clock, event=event)
    s.start()
    assert event.done.wait(60)
    s.stop()
    assert power.reads == 20 and counter.reads == 2
