import pytest
from fakes.fake_amdsmi import FakeAmdGpu, make_fake_amdsmi
from fakes.fake_pynvml import FakeGpu, make_fake_nvml
from wattprint import Tracker
from wattprint.engine.sensors.amd import AmdSensor
from wattprint.engine.sensors.discovery import discover
from wattprint.errors import SensorUnavailable
from wattprint.testing import ManualClock

INF = float("inf")


def test_energy_counter_times_resolution():
    gpus = [FakeAmdGpu(), FakeAmdGpu(uuid="other")]
    clock = ManualClock()
    sensor = AmdSensor(amdsmi=make_fake_amdsmi(gpus), env={})
    comps = sensor.components()
    assert [c.id for c in comps] == ["gpu:0", "gpu:1"]
    assert comps[0].source == "amdsmi.energy_count" and comps[0].name == "AMD Instinct MI300X"
    assert comps[0].info["power_limit_w"] == 750
    t = Tracker(sensors=[sensor], clock=clock, interval_s=INF, save=False)
    t.start()
    for _ in range(5):
        clock.advance(1)
        gpus[0].accumulator += int(400 / 15.3e-6)  # 400 J a second
        t.sample_now()
    fp = t.stop().to_dict()
    e = {c["id"]: c["energy_j"] for c in fp["components"]}
    assert e["gpu:0"] == pytest.approx(2000.0, rel=1e-4) and e["gpu:1"] == 0.0


def test_power_polling_when_counter_not_supported_and_na_is_a_gap():
    gpu = FakeAmdGpu(has_counter=False, power_w=250)
    clock = ManualClock()
    sensor = AmdSensor(amdsmi=make_fake_amdsmi([gpu]), env={})
    assert sensor.components()[0].source == "amdsmi.power" and sensor.poll_interval_s == pytest.approx(0.1)
    t = Tracker(sensors=[sensor], clock=clock, interval_s=INF, save=False)
    t.start()
    for i in range(20):
        clock.advance(0.1)
        if i == 10:
            gpu.power_w = "N/A"
        if i == 12:
            gpu.power_w = 250
        t.sample_now()
    fp = t.stop().to_dict()
    assert fp["status"] == "partial" and fp["gaps"][0]["component"] == "gpu:0"
    assert "N/A" in fp["gaps"][0]["reason"]
    assert fp["components"][0]["energy_j"] == pytest.approx(250 * 1.0 + 250 * 0.7, rel=1e-6)


def test_visible_devices_and_nothing_visible():
    gpus = [FakeAmdGpu(uuid="a"), FakeAmdGpu(uuid="b"), FakeAmdGpu(uuid="c")]
    s = AmdSensor(amdsmi=make_fake_amdsmi(gpus), env={"HIP_VISIBLE_DEVICES": "2,0"})
    assert [c.info["uuid"] for c in s.components()] == ["c", "a"]
    with pytest.raises(SensorUnavailable):
        AmdSensor(amdsmi=make_fake_amdsmi(gpus), env={"ROCR_VISIBLE_DEVICES": ""})


def test_discovery_numbers_amd_after_nvidia():
    nv = make_fake_nvml([FakeGpu(uuid="GPU-1")])
    amd = make_fake_amdsmi([FakeAmdGpu()])
    sensors, notes = discover(cpu=False, ram=False, nvml_module=nv, amdsmi_module=amd, env={})
    ids = [c.id for s in sensors for c in s.components()]
    assert ids == ["gpu:0", "gpu:1"]
    assert {n.source: n.status for n in notes} == {"nvml": "measured", "amdsmi": "measured"}


def test_discovery_without_amdsmi_says_why():
    sensors, notes = discover(gpu=True, cpu=False, ram=False, env={})
    amd_notes = [n for n in notes if n.source == "amdsmi"]
    assert amd_notes and amd_notes[0].status == "absent" and "amdsmi" in amd_notes[0].detail


def test_amdsmi_without_rocm_is_tried_once_per_process_and_prints_nothing(tmp_path):
    """An importable amdsmi without ROCm (what installing Zeus leaves): one try, silent, then skipped at once."""
    import os
    import subprocess
    import sys
    import textwrap

    pkg = tmp_path / "amdsmi"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(
        """
        import os, sys
        print("Unable to find libamd_smi.so library try installing amd-smi-lib")
        os.write(2, b"libamd_smi.so: cannot open shared object file\\n")
        with open(os.environ["IMPORTS_LOG"], "a") as fh:
            fh.write("import\\n")
        raise KeyError("libamd_smi.so")
        """))
    log = tmp_path / "imports.log"
    script = textwrap.dedent(
        """
        from wattprint.engine.sensors.amd import AmdSensor
        from wattprint.errors import SensorUnavailable
        for _ in range(3):
            try:
                AmdSensor()
            except SensorUnavailable as err:
                assert "libamd_smi" in str(err)
        print("done")
        """)
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""), IMPORTS_LOG=str(log))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done\n"  # before: amdsmi's two lines at every tracker start
    assert "libamd_smi" not in proc.stderr
    assert log.read_text() == "import\n"  # before: one import attempt per start
