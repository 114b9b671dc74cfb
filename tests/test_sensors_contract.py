"""The sensor contract: state made in __init__, public record_gap, last_error and mode declared,
and the one GPU read loop (sensors/_channel.py) shared by NVIDIA and AMD."""

import pytest
from fakes.fake_amdsmi import FakeAmdGpu, make_fake_amdsmi
from fakes.fake_pynvml import FakeGpu, make_fake_nvml
from fakes.powercap import FakePowercap
from wattprint import ReplaySensor, Sensor
from wattprint.engine.sensors._channel import ChannelSensor, GpuChannel
from wattprint.engine.sensors.amd import AmdSensor
from wattprint.engine.sensors.base import Component, Gap
from wattprint.engine.sensors.estimate import CpuEstimateSensor, RamEstimateSensor
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.engine.sensors.rapl import RaplSensor
from wattprint.errors import SensorNotSupported


class OneComponent(Sensor):
    name = "one"

    def components(self):
        return [Component(id="x", kind="synthetic", name="x", source="test", measured=True)]

    def read(self, now_s):
        return {"x": 0.0}


class LegacySensor(OneComponent):
    """Written before Sensor had an __init__: never calls super().__init__()."""

    def __init__(self):
        self.value = 1


def test_state_exists_with_or_without_super_init():
    for sensor in (OneComponent(), LegacySensor()):
        assert sensor.drain_gaps() == []
        sensor.record_gap("x", 1.0, 2.0, "counter reset")
        sensor._record_gap("x", 2.0, 3.0, "old name still works")
        assert sensor.drain_gaps() == [Gap("x", 1.0, 2.0, "counter reset"), Gap("x", 2.0, 3.0, "old name still works")]
        assert sensor.drain_gaps() == []
        assert sensor.last_error("x") is None
        sensor.close()
        sensor.close()


def test_every_sensor_declares_its_mode(tmp_path):
    FakePowercap(tmp_path, sockets=1)
    assert Sensor.mode == "counter"
    assert RaplSensor(str(tmp_path), env={}).mode == "counter"
    assert CpuEstimateSensor(cpu_tdp_w=10.0).mode == "counter"
    assert RamEstimateSensor(total_bytes=8 * 10**9).mode == "counter"
    assert ReplaySensor([(0, 1.0)]).mode == "counter"
    assert ReplaySensor([(0, 1.0)], mode="power").mode == "power"
    assert NvidiaSensor(nvml=make_fake_nvml([FakeGpu(uuid="GPU-1")]), env={}).mode == "counter"
    mixed = [FakeGpu(uuid="GPU-1"), FakeGpu(uuid="GPU-2", has_energy_counter=False)]
    nv = NvidiaSensor(nvml=make_fake_nvml(mixed), env={}, power_interval_s=0.05)
    assert nv.mode == "power" and nv.poll_interval_s == pytest.approx(0.05)
    assert AmdSensor(amdsmi=make_fake_amdsmi([FakeAmdGpu()]), env={}).mode == "counter"
    assert AmdSensor(amdsmi=make_fake_amdsmi([FakeAmdGpu(has_counter=False)]), env={}).mode == "power"


def test_nvidia_power_hole_is_not_bridged_and_last_error_says_why():
    gpu = FakeGpu(uuid="GPU-p", has_energy_counter=False, has_instant_power=False, power_mw=100_000)
    sensor = NvidiaSensor(nvml=make_fake_nvml([gpu]), env={})
    assert sensor.read(0.0)["gpu:0"] == 0.0
    assert sensor.read(1.0)["gpu:0"] == pytest.approx(100.0)
    gpu.lost = True
    assert "gpu:0" not in sensor.read(2.0)
    assert "fallen off the bus" in sensor.last_error("gpu:0")
    gpu.lost = False
    assert sensor.read(3.0)["gpu:0"] == pytest.approx(100.0)  # restarts: 1 s..3 s is a gap, not 200 J
    assert sensor.read(4.0)["gpu:0"] == pytest.approx(200.0)
    assert sensor.last_error("gpu:9") is None


def test_counter_gap_starts_at_the_last_good_read():
    gpu = FakeGpu(uuid="GPU-c", energy_mj=10_000_000)
    sensor = NvidiaSensor(nvml=make_fake_nvml([gpu]), env={})
    sensor.read(0.0)
    gpu.energy_mj += 100_000
    sensor.read(1.0)
    gpu.energy_mj = 5_000  # driver reload
    sensor.read(2.0)
    gaps = sensor.drain_gaps()
    assert [(g.component_id, g.start_s, g.end_s) for g in gaps] == [("gpu:0", 1.0, 2.0)]
    assert gaps[0].reason == "nvml counter reset"


def test_amd_counter_gap_is_labelled_amdsmi():
    gpu = FakeAmdGpu()
    sensor = AmdSensor(amdsmi=make_fake_amdsmi([gpu]), env={})
    sensor.read(0.0)
    gpu.accumulator += 10**12  # far more than 750 W can draw in a second
    assert sensor.read(1.0)["gpu:0"] == 0.0
    assert [g.reason for g in sensor.drain_gaps()] == ["amdsmi counter jump"]


class TwoChannels(ChannelSensor):
    """A vendor that supplies only the raw read (what NVIDIA and AMD do)."""

    name = "two"
    gap_label = "two"

    def __init__(self):
        self.raw = {"gpu:0": 0, "gpu:1": 50.0}
        self.fail = set()
        super().__init__([GpuChannel("gpu:0", "two.counter", None, _counter()), GpuChannel("gpu:1", "two.power", None)], 0.1)

    def components(self):
        return []

    def read_raw(self, channel):
        if channel.component_id in self.fail:
            raise SensorNotSupported("answered N/A")
        return self.raw[channel.component_id]


def _counter():
    from wattprint.engine.counters import EnergyCounter

    return EnergyCounter(scale_j=1e-3)


def test_channel_sensor_reads_counters_and_power_side_by_side():
    s = TwoChannels()
    assert s.mode == "power" and s.poll_interval_s == pytest.approx(0.1)
    assert s.read(0.0) == {"gpu:0": 0.0, "gpu:1": 0.0}
    s.raw["gpu:0"] = 30_000
    assert s.read(1.0) == pytest.approx({"gpu:0": 30.0, "gpu:1": 50.0})
    s.fail = {"gpu:0"}
    assert s.read(2.0) == pytest.approx({"gpu:1": 100.0})
    assert s.last_error("gpu:0") == "answered N/A" and s.last_error("gpu:1") is None
