"""The shipped test doubles (``wattprint.testing``): replay rig, construction hook, hardware fakes."""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys

import pytest
import wattprint as wp
from wattprint import testing
from wattprint.testing import ManualClock, checking_footprints, replay_sensor, replay_tracker

TESTING_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tracker", "testing")


def test_replay_tracker_integrates_constant_power_exactly():
    t, clock = replay_tracker(watts=300.0)
    t.start()
    clock.advance(10.0)
    fp = t.stop()
    assert fp.energy_j == pytest.approx(3000.0, abs=1e-9)
    assert t.save is False and t.interval_s == math.inf


def test_replay_tracker_takes_a_trace_a_cpu_and_tracker_arguments():
    clock = ManualClock()
    t, same = replay_tracker(watts=[(0.0, 100.0), (5.0, 200.0)], cpu_watts=20.0, clock=clock, project="p", env={})
    assert same is clock
    t.start()
    clock.advance(10.0)
    fp = t.stop()
    by_id = {c["id"]: c for c in fp.to_dict()["components"]}
    assert set(by_id) == {"gpu:0", "cpu:package-0"}
    assert fp.energy_j == pytest.approx(500.0 + 1000.0 + 200.0, abs=1e-9)
    assert fp.get("project") == "p"


def test_replay_sensor_accepts_a_constant_or_a_trace():
    assert replay_sensor(50.0).exact_energy_j(2.0) == pytest.approx(100.0)
    assert replay_sensor([(0, 10.0), (1, 30.0)], mode="power").exact_energy_j(2.0) == pytest.approx(40.0)


def test_checking_footprints_sees_library_builds_not_hand_made_ones():
    seen = []
    with checking_footprints(seen.append):
        wp.Footprint({"components": []})  # hand-made in a test: not checked
        t, clock = replay_tracker()
        t.start()
        clock.advance(1.0)
        fp = t.stop()
    assert fp in seen and all(isinstance(f, wp.Footprint) for f in seen)
    n = len(seen)
    t, clock = replay_tracker()
    t.start()
    t.stop()
    assert len(seen) == n  # the hook is removed on exit


def test_checking_footprints_sees_the_job_merge():
    from wattprint.footprint.merge import merge_footprints

    docs = []
    for watts in (100.0, 200.0):
        t, clock = replay_tracker(watts)
        t.start()
        clock.advance(10.0)
        docs.append(t.stop().to_dict())
    seen = []
    with checking_footprints(seen.append):
        merged = merge_footprints(docs)
    assert seen == [merged] and merged.energy_j == pytest.approx(3000.0)


def test_checking_footprints_failure_propagates_from_the_build():
    def reject(fp):
        raise AssertionError("rejected")

    t, clock = replay_tracker()
    t.start()
    with checking_footprints(reject), pytest.raises(AssertionError, match="rejected"):
        t.snapshot()
    t.stop()


def test_hardware_fakes_are_shipped_and_work_with_the_sensors(tmp_path):
    from wattprint.engine.sensors.nvidia import NvidiaSensor
    from wattprint.engine.sensors.rapl import RaplSensor

    nvml = testing.make_fake_nvml(testing.two_gpus())
    assert nvml.nvmlDeviceGetCount() == 2 and isinstance(NvidiaSensor(nvml=nvml), wp.Sensor)
    amd = testing.make_fake_amdsmi([testing.FakeAmdGpu()])
    assert amd.amdsmi_get_processor_handles()
    pc = testing.FakePowercap(tmp_path / "powercap", sockets=1)
    pc.add_j("cpu:package-0", 2.0)
    assert pc.get("cpu:package-0") == 3_000_000
    assert isinstance(RaplSensor(root=str(tmp_path / "powercap")), wp.Sensor)
    with pytest.raises(AttributeError):
        testing.no_such_double  # noqa: B018


def test_the_suite_fakes_are_the_shipped_ones():
    import fakes.fake_amdsmi
    import fakes.fake_pynvml
    import fakes.powercap

    assert fakes.fake_pynvml.make_fake_nvml is testing.make_fake_nvml
    assert fakes.fake_amdsmi.FakeAmdGpu is testing.FakeAmdGpu
    assert fakes.powercap.FakePowercap is testing.FakePowercap


def test_testing_never_imports_pytest_or_exporters():
    for name in sorted(os.listdir(TESTING_DIR)):
        if not name.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(TESTING_DIR, name), encoding="utf-8").read())
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for m in mods:
                assert m.split(".")[0] not in ("pytest", "hypothesis"), (name, m)
                assert not m.startswith("wattprint.exporters"), (name, m)


def test_import_testing_stays_light():
    code = "import sys, wattprint.testing; print('pynvml' in sys.modules, 'pytest' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]
