import pynvml
import pytest
from fakes.fake_pynvml import FakeGpu, make_fake_nvml, two_gpus
from wattprint import Tracker
from wattprint.engine.sensors.discovery import discover
from wattprint.engine.sensors.nvidia import (
    NvidiaSensor,
    nvml_call,
    resolve_visible_devices,
)
from wattprint.errors import SensorLost, SensorNotSupported, SensorUnavailable
from wattprint.testing import ManualClock


def test_counter_mode_energy_equals_counter_difference():
    gpus = two_gpus()
    nv = make_fake_nvml(gpus)
    clock = ManualClock()
    sensor = NvidiaSensor(nvml=nv, env={})
    comps = sensor.components()
    assert [c.id for c in comps] == ["gpu:0", "gpu:1"]
    assert comps[0].source == "nvml.total_energy" and comps[0].measured
    assert comps[0].info["uuid"] == gpus[0].uuid and comps[0].info["power_limit_w"] == 700.0
    assert comps[1].name == "NVIDIA A100-SXM4-80GB"
    t = Tracker(sensors=[sensor], clock=clock, interval_s=float("inf"), save=False)
    t.start()
    start = [g.energy_mj for g in gpus]
    for _ in range(10):
        clock.advance(1.0)
        gpus[0].energy_mj += 350_000  # 350 W
        gpus[1].energy_mj += 123_456
        t.sample_now()
    clock.advance(0.5)
    gpus[0].energy_mj += 1_000
    fp = t.stop()
    e = {c["id"]: c["energy_j"] for c in fp.to_dict()["components"]}
    assert e["gpu:0"] == pytest.approx((gpus[0].energy_mj - start[0]) / 1000.0, abs=1e-9)
    assert e["gpu:1"] == pytest.approx((gpus[1].energy_mj - start[1]) / 1000.0, abs=1e-9)
    assert nv.shutdown_count == 1


def test_not_supported_counter_falls_back_to_instant_power_polling():
    gpu = FakeGpu(uuid="GPU-aaaa", has_energy_counter=False, power_mw=200_000)
    clock = ManualClock()
    sensor = NvidiaSensor(nvml=make_fake_nvml([gpu]), env={})
    assert sensor.components()[0].source == "nvml.power_instant"
    assert sensor.poll_interval_s == pytest.approx(0.1)
    t = Tracker(sensors=[sensor], clock=clock, interval_s=float("inf"), save=False)
    t.start()
    for _ in range(20):
        clock.advance(0.1)
        t.sample_now()
    fp = t.stop()
    assert fp.energy_j == pytest.approx(200.0 * 2.0, rel=1e-6)


def test_average_power_when_no_instant_field():
    gpu = FakeGpu(uuid="GPU-bbbb", has_energy_counter=False, has_instant_power=False, power_mw=50_000)
    sensor = NvidiaSensor(nvml=make_fake_nvml([gpu]), env={})
    assert sensor.components()[0].source == "nvml.power_average"
    sensor.read(0.0)
    assert sensor.read(2.0)["gpu:0"] == pytest.approx(100.0)


def test_error_mid_run_is_a_gap_not_a_crash():
    gpus = [FakeGpu(uuid="GPU-cccc")]
    clock = ManualClock()
    t = Tracker(sensors=[NvidiaSensor(nvml=make_fake_nvml(gpus), env={})], clock=clock, interval_s=float("inf"), save=False)
    t.start()
    clock.advance(1)
    gpus[0].energy_mj += 100_000
    t.sample_now()
    gpus[0].lost = True
    clock.advance(1)
    t.sample_now()
    clock.advance(1)
    fp = t.stop()
    d = fp.to_dict()
    assert d["status"] == "partial"
    assert d["components"][0]["energy_j"] == pytest.approx(100.0)
    assert d["gaps"][0]["component"] == "gpu:0" and "SensorLost" not in d["gaps"][0]["reason"]
    assert "fallen off the bus" in d["gaps"][0]["reason"]


def test_driver_reload_resets_counter_recorded_as_gap():
    gpus = [FakeGpu(uuid="GPU-dddd", energy_mj=900_000_000)]
    clock = ManualClock()
    t = Tracker(sensors=[NvidiaSensor(nvml=make_fake_nvml(gpus), env={})], clock=clock, interval_s=float("inf"), save=False)
    t.start()
    clock.advance(1)
    gpus[0].energy_mj += 300_000
    t.sample_now()
    clock.advance(1)
    gpus[0].energy_mj = 250_000  # reload: restarted from zero, 250 J since
    t.sample_now()
    fp = t.stop()
    d = fp.to_dict()
    assert d["components"][0]["energy_j"] == pytest.approx(300.0 + 250.0)
    assert d["status"] == "partial" and "reset" in d["gaps"][0]["reason"]


def test_error_mapping():
    nv = make_fake_nvml([])

    def raiser(code):
        def f():
            raise pynvml.NVMLError(code)

        return f

    with pytest.raises(SensorNotSupported):
        nvml_call(nv, raiser(pynvml.NVML_ERROR_NOT_SUPPORTED))
    with pytest.raises(SensorLost):
        nvml_call(nv, raiser(pynvml.NVML_ERROR_GPU_IS_LOST))
    with pytest.raises(SensorUnavailable):
        nvml_call(nv, raiser(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))


def test_no_driver_means_absent_not_crash():
    nv = make_fake_nvml([], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    sensors, notes = discover(gpu=True, cpu=False, ram=False, nvml_module=nv)
    assert sensors == []
    assert notes[0].source == "nvml" and notes[0].status == "absent" and "driver" in notes[0].detail.lower()


@pytest.mark.parametrize(
    "visible, expected",
    [
        (None, ["GPU-1111", "GPU-2222", "GPU-3333"]),
        ("", []),
        ("2,0", ["GPU-3333", "GPU-1111"]),
        ("GPU-2222", ["GPU-2222"]),
        ("GPU-33", ["GPU-3333"]),  # unique prefix, as CUDA accepts
        ("1,7,0", ["GPU-2222"]),  # CUDA stops at the first invalid entry
        ("MIG-x-1", ["GPU-1111"]),  # a MIG slice is metered through its parent
    ],
)
def test_cuda_visible_devices_mapping(visible, expected):
    gpus = [FakeGpu(uuid="GPU-1111", migs=["MIG-x-1"]), FakeGpu(uuid="GPU-2222"), FakeGpu(uuid="GPU-3333")]
    nv = make_fake_nvml(gpus)
    selectors = None if visible is None else [s for s in visible.split(",") if s]
    pairs = resolve_visible_devices(nv, selectors)
    assert [h.gpu.uuid for h, _ in pairs] == expected


def test_mig_component_says_parent_is_metered():
    gpus = [FakeGpu(uuid="GPU-1111", migs=["MIG-x-1"])]
    sensor = NvidiaSensor(nvml=make_fake_nvml(gpus), env={"CUDA_VISIBLE_DEVICES": "MIG-x-1"})
    info = sensor.components()[0].info
    assert info["mig_uuid"] == "MIG-x-1" and "parent" in info["note"]


def test_no_visible_gpu_is_unavailable():
    with pytest.raises(SensorUnavailable):
        NvidiaSensor(nvml=make_fake_nvml(two_gpus()), env={"CUDA_VISIBLE_DEVICES": ""})
