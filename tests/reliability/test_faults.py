"""Fault injection at the hardware boundary and at the outputs: the run always finishes,
the gap is recorded with its span, the footprint says what is missing."""

import datetime as dt
import errno
import json
import logging
import multiprocessing as mp
import socket
import threading

import pytest
from fakes.fake_pynvml import FakeGpu, make_fake_nvml
from fakes.powercap import FakePowercap
from wattprint import ReplaySensor, Tracker, _io
from wattprint.engine.sensors.base import Sensor
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.engine.sensors.rapl import RaplSensor
from wattprint.testing import ManualClock

INF = float("inf")


def test_not_supported_appearing_mid_run_is_a_gap():
    gpus = [FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b")]
    clock = ManualClock()
    t = Tracker(sensors=[NvidiaSensor(nvml=make_fake_nvml(gpus), env={})], clock=clock, interval_s=INF, save=False)
    t.start()
    for i in range(6):
        clock.advance(1)
        for g in gpus:
            g.energy_mj += 200_000
        if i == 2:
            gpus[1].energy_error = 3  # NVML_ERROR_NOT_SUPPORTED from now on
        t.sample_now()
    fp = t.stop().to_dict()
    e = {c["id"]: c["energy_j"] for c in fp["components"]}
    assert e["gpu:0"] == pytest.approx(1200.0)
    assert e["gpu:1"] == pytest.approx(400.0)  # two good seconds before the capability vanished... then none
    gap = [g for g in fp["gaps"] if g["component"] == "gpu:1"][0]
    assert gap["start_s"] == pytest.approx(2.0) and gap["end_s"] == pytest.approx(6.0)
    assert "not supported" in gap["reason"]
    assert fp["status"] == "partial"


def test_gpu_recovers_after_loss_and_counting_resumes():
    gpu = FakeGpu(uuid="GPU-a")
    clock = ManualClock()
    t = Tracker(sensors=[NvidiaSensor(nvml=make_fake_nvml([gpu]), env={})], clock=clock, interval_s=INF, save=False)
    t.start()
    clock.advance(1); gpu.energy_mj += 100_000; t.sample_now()
    gpu.lost = True
    clock.advance(1); gpu.energy_mj += 100_000; t.sample_now()
    gpu.lost = False
    clock.advance(1); gpu.energy_mj += 100_000; t.sample_now()
    fp = t.stop().to_dict()
    assert fp["components"][0]["energy_j"] == pytest.approx(300.0)  # the counter kept counting through the gap
    assert len(fp["gaps"]) == 1 and fp["gaps"][0]["end_s"] == pytest.approx(3.0)


class ExplodingSensor(Sensor):
    name = "exploding"

    def __init__(self):
        from wattprint.engine.sensors.base import Component

        self._c = [Component(id="x", kind="synthetic", name="x", source="test", measured=True)]

    def components(self):
        return self._c

    def read(self, now_s):
        raise RuntimeError("driver bug")


def test_any_sensor_exception_is_contained(caplog):
    clock = ManualClock()
    t = Tracker(sensors=[ExplodingSensor(), ReplaySensor([(0, 10.0)])], clock=clock, interval_s=INF, save=False)
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        t.start()
        for _ in range(5):
            clock.advance(1)
            t.sample_now()
        fp = t.stop().to_dict()
    assert fp["status"] == "partial" and fp["energy"]["it_j"] == pytest.approx(50.0)
    assert [g["component"] for g in fp["gaps"]] == ["x"] and "driver bug" in fp["gaps"][0]["reason"]
    assert sum("exploding" in r.getMessage() for r in caplog.records) == 1  # logged once, not every tick


def test_rapl_file_disappearing_and_coming_back(tmp_path):
    pc = FakePowercap(tmp_path, sockets=1, dram=False)
    clock = ManualClock()
    t = Tracker(sensors=[RaplSensor(str(tmp_path))], clock=clock, interval_s=INF, save=False)
    t.start()
    clock.advance(1); pc.add_j("cpu:package-0", 40); t.sample_now()
    saved = pc.get("cpu:package-0")
    pc.remove("cpu:package-0")
    clock.advance(1); t.sample_now()
    pc.set("cpu:package-0", saved + 40_000_000)
    clock.advance(1); t.sample_now()
    fp = t.stop().to_dict()
    assert fp["components"][0]["energy_j"] == pytest.approx(80.0)
    assert fp["gaps"][0]["component"] == "cpu:package-0"


class SteppedClock(ManualClock):
    """A wall clock that is stepped backwards by an hour mid-run (NTP, DST bugs): monotonic is unaffected."""

    def utc_now(self):
        t = super().utc_now()
        return t - dt.timedelta(hours=1) if self.monotonic() > 1002 else t


def test_wall_clock_step_does_not_change_duration_or_energy():
    clock = SteppedClock()
    t = Tracker(sensors=[ReplaySensor([(0, 10.0)])], clock=clock, interval_s=INF, save=False)
    t.start()
    clock.advance(5)
    fp = t.stop().to_dict()
    assert fp["duration_s"] == pytest.approx(5.0) and fp["energy"]["it_j"] == pytest.approx(50.0)
    assert fp["ended_at"] > fp["started_at"]


def test_full_disk_loses_json_but_not_the_footprint_nor_the_csv(tmp_path, monkeypatch, caplog):
    def full(path, data, **_kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_io, "atomic_write_bytes", full)  # every atomic write (JSON or text) ends here
    out = tmp_path / "o"
    with caplog.at_level(logging.ERROR, logger="wattprint"):
        with Tracker(run_id="full", output_dir=str(out), sensors=[ReplaySensor([(0, 10.0)])], clock=ManualClock(), interval_s=INF) as t:
            pass
    assert t.footprint is not None and t.footprint.status == "completed"
    assert "full" in (out / "runs.csv").read_text()
    assert any("No space left" in r.getMessage() for r in caplog.records)


class RaisingExporter:
    def export(self, fp):
        raise RuntimeError("exporter down")


class HangingExporter:
    def __init__(self):
        self.release = threading.Event()

    def export(self, fp):
        self.release.wait(30)


class RecordingExporter:
    def __init__(self):
        self.got = []

    def export(self, fp):
        self.got.append(fp.run_id)


def test_failing_and_hanging_exporters_do_not_break_the_run_or_others(tmp_path):
    hang, rec = HangingExporter(), RecordingExporter()
    out = tmp_path / "o"
    try:
        with Tracker(run_id="iso", output_dir=str(out), sensors=[ReplaySensor([(0, 1.0)])], interval_s=INF,
                     exporters=[RaisingExporter(), hang, rec], export_timeout_s=5.0) as t:  # real time: the others' budget
            pass
    finally:
        hang.release.set()
    assert rec.got == ["iso"]
    assert json.loads((out / "iso.json").read_text())["status"] == "completed"
    errors = {r.name: r.errors for r in t._runners}
    assert any("exporter down" in e for e in errors["RaisingExporter"])
    assert any("deadline" in e for e in errors["HangingExporter"])


def _csv_worker(args):
    out, i = args
    for k in range(10):
        Tracker(run_id=f"p{i}-{k}", output_dir=out, sensors=[ReplaySensor([(0, 1.0)])], interval_s=INF,
                handle_signals=False).start().stop()


def test_many_processes_append_to_one_runs_csv(tmp_path):
    import csv

    out = str(tmp_path / "shared")
    with mp.get_context("spawn").Pool(4) as pool:
        pool.map(_csv_worker, [(out, i) for i in range(6)])
    lines = (tmp_path / "shared" / "runs.csv").read_text().splitlines()
    assert lines[0].startswith("schema,run_id")
    rows = list(csv.DictReader(lines))
    assert sorted(r["run_id"] for r in rows) == sorted(f"p{i}-{k}" for i in range(6) for k in range(10))
    assert all(r["schema"] == "wattprint.footprint/1" for r in rows)


def test_no_network_without_configuration(monkeypatch, tmp_path):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    clock = ManualClock()
    with Tracker(region="world", output_dir=str(tmp_path / "o"), clock=clock, interval_s=INF) as t:
        clock.advance(1)
        t.step()
    assert t.footprint.status == "completed"
    assert attempts == []
