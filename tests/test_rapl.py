import pytest
from fakes.powercap import FakePowercap
from wattprint import Tracker
from wattprint.engine.sensors import rapl as rapl_mod
from wattprint.engine.sensors.discovery import discover
from wattprint.engine.sensors.rapl import RaplSensor, find_rapl_zones
from wattprint.errors import SensorPermissionError, SensorUnavailable
from wattprint.testing import ManualClock


def test_zones_count_packages_and_dram_only(tmp_path):
    FakePowercap(tmp_path, sockets=2, dram=True, psys=True, core=True, mmio=True)
    ids = [z.component_id for z in find_rapl_zones(str(tmp_path))]
    assert ids == ["cpu:package-0", "dram:0", "cpu:package-1", "dram:1"]


def test_root_from_environment(tmp_path, monkeypatch):
    FakePowercap(tmp_path, sockets=1)
    monkeypatch.setenv("WATTPRINT_POWERCAP_ROOT", str(tmp_path))
    sensor = RaplSensor()
    assert sensor.root == str(tmp_path)
    assert {c.id for c in sensor.components()} == {"cpu:package-0", "dram:0"}
    assert all(c.measured and c.source == "rapl" for c in sensor.components())


def test_no_zone_is_unavailable(tmp_path):
    with pytest.raises(SensorUnavailable):
        RaplSensor(str(tmp_path))


def test_counter_deltas_with_wrap_mid_run_match_within_1_percent(tmp_path):
    pc = FakePowercap(tmp_path, sockets=2, max_range_uj=50_000_000)  # 50 J range: wraps often
    clock = ManualClock()
    t = Tracker(sensors=[RaplSensor(str(tmp_path))], clock=clock, interval_s=float("inf"), save=False)
    t.start()
    truth = {"cpu:package-0": 0.0, "dram:0": 0.0, "cpu:package-1": 0.0, "dram:1": 0.0}
    for i in range(30):
        clock.advance(1.0)
        for key, watts in (("cpu:package-0", 35.0), ("dram:0", 6.0), ("cpu:package-1", 20.0 + i), ("dram:1", 4.5)):
            pc.add_j(key, watts)
            truth[key] += watts
        pc.add_j("psys", 500.0)  # must never be counted
        t.sample_now()
    fp = t.stop()
    by_id = {c["id"]: c["energy_j"] for c in fp.to_dict()["components"]}
    for key, joules in truth.items():
        assert by_id[key] == pytest.approx(joules, rel=0.01)
    assert fp.energy_j == pytest.approx(sum(truth.values()), rel=0.01)
    assert fp.status == "completed"


def test_unreadable_energy_file_names_the_fix_and_falls_back_to_estimate(tmp_path, monkeypatch, caplog):
    FakePowercap(tmp_path, sockets=1)
    real = rapl_mod._read_text

    def deny(path):
        if path.endswith("energy_uj"):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(rapl_mod, "_read_text", deny)
    with pytest.raises(SensorPermissionError) as err:
        RaplSensor(str(tmp_path))
    assert "energy_uj" in str(err.value) and "chmod" in str(err.value)

    monkeypatch.setattr("wattprint.engine.sensors.discovery._warned_rapl_permission", False)
    with caplog.at_level("WARNING", logger="wattprint"):
        sensors, notes = discover(gpu=False, powercap_root=str(tmp_path))
        discover(gpu=False, powercap_root=str(tmp_path))
    warnings = [r for r in caplog.records if "root" in r.getMessage()]
    assert len(warnings) == 1, "the permission warning is given once"
    kinds = {c.id: c for s in sensors for c in s.components()}
    assert not kinds["cpu"].measured and kinds["cpu"].source == "estimate.tdp"
    assert "energy_uj" in kinds["cpu"].info["reason"]
    assert any(n.source == "rapl" and n.status == "absent" and "energy_uj" in n.detail for n in notes)


def test_disappearing_file_is_a_gap_and_run_finishes(tmp_path):
    pc = FakePowercap(tmp_path, sockets=1)
    clock = ManualClock()
    t = Tracker(sensors=[RaplSensor(str(tmp_path))], clock=clock, interval_s=float("inf"), save=False)
    t.start()
    clock.advance(1)
    pc.add_j("dram:0", 5)
    t.sample_now()
    pc.remove("dram:0")
    clock.advance(1)
    t.sample_now()
    clock.advance(1)
    fp = t.stop()
    d = fp.to_dict()
    assert d["status"] == "partial"
    gap = [g for g in d["gaps"] if g["component"] == "dram:0"]
    assert gap and gap[0]["start_s"] == pytest.approx(1.0) and gap[0]["end_s"] == pytest.approx(3.0)
    assert any("dram:0" in n for n in d["notes"])
