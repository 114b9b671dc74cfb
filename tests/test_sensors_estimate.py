"""The CPU estimate's utilisation comes from the sensor's own cpu_times() deltas (thread-independent)."""

import threading
from collections import namedtuple

import pytest
from wattprint.engine.sensors.estimate import IDLE_FRACTION, CpuEstimateSensor

# psutil's Linux shape: busy = total - idle - iowait; guest and guest_nice are already inside user/nice
Times = namedtuple("Times", "user nice system idle iowait irq softirq steal guest guest_nice")


class FakeCpuTimes:
    """A cpu_times() source advanced by hand (seconds summed over all CPUs)."""

    def __init__(self) -> None:
        self.user = self.idle = self.iowait = self.guest = 0.0
        self.calls = 0

    def __call__(self) -> Times:
        self.calls += 1
        return Times(self.user, 0.0, 0.0, self.idle, self.iowait, 0.0, 0.0, 0.0, self.guest, 0.0)


def _read_on_new_thread(sensor, now_s):
    out = {}
    th = threading.Thread(target=lambda: out.update(sensor.read(now_s)))
    th.start()
    th.join()
    return out


def test_first_read_on_the_sampler_thread_sees_the_real_utilisation():
    times = FakeCpuTimes()
    sensor = CpuEstimateSensor(cpu_tdp_w=100.0, cpu_times=times)  # opened on this thread
    sensor.read(0.0)  # the start boundary, on this thread
    times.user += 8.0  # one fully busy second on 8 CPUs
    out = _read_on_new_thread(sensor, 1.0)  # the sampler thread's very first read
    assert sensor.last_power_w == pytest.approx(100.0)
    assert out["cpu"] == pytest.approx(100.0)


def test_utilisation_is_busy_over_total_and_iowait_and_guest_are_not_busy():
    times = FakeCpuTimes()
    sensor = CpuEstimateSensor(cpu_tdp_w=100.0, cpu_times=times)
    sensor.read(0.0)
    times.user += 2.0
    times.guest += 1.0  # already inside user: not counted twice in the total
    times.idle += 1.0
    times.iowait += 1.0  # waiting is not busy
    sensor.read(1.0)
    assert sensor.last_power_w == pytest.approx(100.0 * (IDLE_FRACTION + (1 - IDLE_FRACTION) * 0.5))


def test_alternating_threads_give_the_same_energy_as_one_thread():
    def run(alternate: bool) -> float:
        times = FakeCpuTimes()
        sensor = CpuEstimateSensor(cpu_tdp_w=50.0, cpu_times=times)
        sensor.read(0.0)
        energy = 0.0
        for i in range(1, 7):
            times.user += 0.25 * i
            times.idle += 4.0 - 0.25 * i
            energy = (_read_on_new_thread(sensor, float(i)) if alternate and i % 2 else sensor.read(float(i)))["cpu"]
        return energy

    assert run(True) == pytest.approx(run(False))


def test_no_cpu_time_elapsed_keeps_the_previous_utilisation():
    times = FakeCpuTimes()
    sensor = CpuEstimateSensor(cpu_tdp_w=100.0, cpu_times=times)
    sensor.read(0.0)
    times.user += 4.0
    sensor.read(1.0)
    sensor.read(1.0001)  # too soon for the kernel's ticks to move
    assert sensor.last_power_w == pytest.approx(100.0)


def test_default_source_is_psutil_and_readings_are_sane():
    sensor = CpuEstimateSensor(cpu_tdp_w=10.0)
    sensor.read(0.0)
    sensor.read(1.0)
    assert 10.0 * IDLE_FRACTION <= sensor.last_power_w <= 10.0
